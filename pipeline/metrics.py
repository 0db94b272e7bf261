"""Prometheus metrics of the worker (served on the Faust web server at ``/metrics``)."""

from __future__ import annotations

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
