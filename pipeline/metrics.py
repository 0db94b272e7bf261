"""Prometheus metrics of the worker (served on the Faust web server at ``/metrics``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    """One registry per worker, so tests and two workers in a process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "hotspot_received_total",
            "Raw messages taken from a feed",
            ["feed"],
            registry=self.registry,
        )
        self.normalized = Counter(
            "hotspot_normalized_total",
            "Alerts published to alerts.normalized",
            ["feed"],
            registry=self.registry,
        )
        self.deadlettered = Counter(
            "hotspot_deadlettered_total",
            "Messages sent to the dead-letter topic",
            ["feed", "reason"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "hotspot_duplicates_total",
            "Alerts dropped as duplicates",
            ["feed"],
            registry=self.registry,
        )
        self.unknown_enum = Counter(
            "hotspot_unknown_enum_total",
            "Enum values replaced by their neutral value",
            ["feed"],
            registry=self.registry,
        )
        self.flags = Counter(
            "hotspot_flag_events_total", "Flag events published", registry=self.registry
        )
        self.incidents = Counter(
            "hotspot_incidents_total", "Incidents published", registry=self.registry
        )
        self.notice_events = Counter(
            "hotspot_notice_events_total",
            "Notice events published (issued, raised, reminder, escalated, the ack actions)",
            ["kind"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "hotspot_stage_seconds",
            "Time a stage took over one batch (outputs delivered and written)",
            ["stage"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.stage_records = Counter(
            "hotspot_stage_records_total",
            "Records a stage has taken",
            ["stage"],
            registry=self.registry,
        )
        self.warehouse_rows = Counter(
            "hotspot_warehouse_rows_total",
            "Rows written to the warehouse",
            ["table"],
            registry=self.registry,
        )
        self.checkpoint_seconds = Histogram(
            "hotspot_checkpoint_seconds",
            "Time to write one partition's correlator checkpoint (delivery awaited)",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.checkpoint_bytes = Gauge(
            "hotspot_checkpoint_bytes",
            "Size of the partition's last correlator checkpoint",
            ["partition"],
            registry=self.registry,
        )
        self.checkpoint_written = Gauge(
            "hotspot_checkpoint_written_timestamp_seconds",
            "Wall-clock time of the partition's last checkpoint (its age: time() - this)",
            ["partition"],
            registry=self.registry,
        )
        self.restores = Counter(
            "hotspot_correlator_restores_total",
            "Partitions taken over: restored from a checkpoint, started empty (none written), "
            "or rebuilt from the input because the checkpoint was refused",
            ["outcome"],
            registry=self.registry,
        )
        self.warehouse_retries = Counter(
            "hotspot_warehouse_retries_total",
            "Warehouse calls that failed and were tried again (one per wait), by operation "
            "(insert, connection, migration) and table",
            ["operation", "table"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "hotspot_consumer_lag",
            "Messages of an input partition this worker holds that are not yet processed and "
            "committed: the partition's high watermark minus the next offset to process",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.watermark_lag = Gauge(
            "hotspot_watermark_lag_seconds",
            "Wall clock minus the event-time watermark of a partition's correlator, s, as of "
            "the scrape: it grows while the partition receives nothing",
            ["partition"],
            registry=self.registry,
        )
        self.open_flags = Gauge(
            "hotspot_open_flags",
            "Hotspot flags open in a partition's correlator after its last batch",
            ["partition"],
            registry=self.registry,
        )
        self._correlated: set[int] = set()  # partitions with correlator series
        self._watermark_ms: dict[int, int] = {}  # partition -> its correlator's watermark

    def warehouse_retry(self, operation: str, table: str = "") -> Callable[[Exception], None]:
        """A callback for :func:`pipeline.warehouse.call_with_retry` and
        :func:`~pipeline.warehouse.insert_with_retry` that counts each retry."""
        child = self.warehouse_retries.labels(operation, table)
        return lambda _exc: child.inc()

    def observe_correlator(self, partition: int, watermark_ms: int, open_flags: int) -> None:
        """A partition's correlator after a batch. Before its first alert a correlator has no
        watermark (``watermark_ms`` is int64 min): its lag is not reported yet."""
        label = str(partition)
        self._correlated.add(partition)
        self.open_flags.labels(label).set(open_flags)
        if watermark_ms <= _NO_WATERMARK:
            return
        if partition not in self._watermark_ms:
            # Computed at scrape time, so an idle partition's lag keeps growing between batches.
            self.watermark_lag.labels(label).set_function(
                lambda: time.time() - self._watermark_ms[partition] / 1000
            )
        self._watermark_ms[partition] = watermark_ms

    def forget_partitions(self, partitions: Iterable[int] | None) -> None:
        """Drop the per-partition correlator series of partitions this worker no longer holds
        (None: all of them)."""
        held = set(self._correlated)
        for partition in held if partitions is None else held.intersection(partitions):
            self._correlated.discard(partition)
            self.open_flags.remove(str(partition))
            if self._watermark_ms.pop(partition, None) is not None:
                self.watermark_lag.remove(str(partition))


#: A correlator's watermark before its first alert (int64 min).
_NO_WATERMARK = -(2**63)
