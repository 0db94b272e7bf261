"""Everything a worker holds while it runs, opened in order and closed in reverse.

``open_runtime`` starts the embedded broker when the settings ask for it, creates the topics,
opens and migrates the warehouse, loads the admin registry and rebuilds the dedupe index.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pipeline.deadletter import Sealer
from pipeline.exceptions import ConfigurationError
from pipeline.geo.admin_units import AdminRegistry, load_registry
from pipeline.kafka import EmbeddedBroker, bootstrap_servers, ensure_topics, partition_counts
from pipeline.kafka.clients import Brokers
from pipeline.marks import check_feed_partitions
from pipeline.metrics import Metrics
from pipeline.normalize import NormalizeContext
from pipeline.settings import Settings
from pipeline.warehouse import RetryPolicy, Warehouse, call_with_retry, migrate, open_warehouse

__all__ = ["Runtime", "open_runtime", "Progress"]

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What the stages have processed and produced, and when (the heartbeat, the benchmarks).

    Several stages may read one topic; a partition counts as processed up to the offset
    *every* stage registered for its topic has reached.
    """

    #: topic -> names of the stages that read it
    readers: dict[str, set[str]] = field(default_factory=dict)
    #: highest offset processed per (stage, topic, partition)
    marks: dict[tuple[str, str, int], int] = field(default_factory=dict)
    #: highest offset this worker produced per (topic, partition)
    produced: dict[tuple[str, int], int] = field(default_factory=dict)
    #: per stage: (monotonic time its first batch started, its last batch ended, messages
    #: processed)
    timing: dict[str, tuple[float, float, int]] = field(default_factory=dict)

    def register(self, stage: str, topic: str) -> None:
        self.readers.setdefault(topic, set()).add(stage)

    def done(self, topic: str, partition: int) -> int:
        """Offset every reader of ``topic`` has processed in ``partition`` (-1: none)."""
        readers = self.readers.get(topic) or {""}
        return min(self.marks.get((stage, topic, partition), -1) for stage in readers)

    def mark_offsets(
        self, stage: str, topic: str, last: dict[int, int], count: int, began: float | None = None
    ) -> None:
        """Record that ``stage`` processed ``count`` messages of ``topic``, up to ``last``
        (partition -> highest offset processed), in a batch that started at ``began``
        (monotonic; default now)."""
        now = time.monotonic()
        for partition, offset in last.items():
            key = (stage, topic, partition)
            if offset > self.marks.get(key, -1):
                self.marks[key] = offset
        first, _, seen = self.timing.get(stage, (now if began is None else began, now, 0))
        self.timing[stage] = (first, now, seen + count)

    def mark_produced(self, records) -> None:
        """Record the delivery reports (topic, partition, last offset) of what this worker
        sent."""
        for record in records:
            key = (record.topic, record.partition)
            if record.offset > self.produced.get(key, -1):
                self.produced[key] = record.offset


@dataclass
class Runtime:
    settings: Settings
    bootstrap: str
    registry: AdminRegistry
    warehouse: Warehouse
    normalize: NormalizeContext
    sealer: Sealer
    metrics: Metrics = field(default_factory=Metrics)
    progress: Progress = field(default_factory=Progress)

    @cached_property
    def brokers(self) -> Brokers:
        """The broker with the settings' SASL and TLS options: pass it, not ``bootstrap``,
        to anything that makes a Kafka client."""
        return Brokers.from_settings(self.settings, self.bootstrap)


def load_admin_registry(settings: Settings) -> AdminRegistry:
    path = settings.resolved_registry_path
    if not path.exists():
        raise ConfigurationError(
            f"admin registry {path} not found; run `hotspot simulate` to create a synthetic "
            "city, or set HOTSPOT_REGISTRY_PATH to your registry GeoJSON"
        )
    return load_registry(path)


def seed_dedupe(ctx: NormalizeContext, warehouse: Warehouse) -> int:
    """Re-learn the ids delivered within the horizon before this worker (re)started, each
    with the feed partition it came from (:mod:`pipeline.dedupe`)."""
    db = warehouse.database
    horizon_s = ctx.dedupe.horizon_ms / 1000
    cols = warehouse.query_columns(
        f"SELECT alert_id, toUnixTimestamp64Milli(event_time) AS ms, origin FROM {db}.alerts "
        f"WHERE event_time >= (SELECT max(event_time) FROM {db}.alerts) - {horizon_s}"
    )
    ids = np.array(cols["alert_id"], dtype=object)
    origin = np.array(cols["origin"], dtype=np.int64)
    ctx.dedupe.seed(ids, np.array(cols["ms"], dtype=np.int64), origin)
    return len(ids)


def store_admin_units(registry: AdminRegistry, warehouse: Warehouse) -> int:
    """Write the registry's units to the warehouse (idempotent), for dashboards and joins."""
    rows = dict(registry.units_table())
    rows["loaded_at"] = np.full(len(rows["code"]), np.datetime64(time.time_ns() // 1_000_000, "ms"))
    warehouse.insert("admin_units", rows)
    return len(rows["code"])


def store_camera_inventory(settings: Settings, registry: AdminRegistry, warehouse) -> int:
    """Store the cameras file (``settings.resolved_cameras_path``), if any: the camera-health
    dashboard counts its cameras. Returns how many (0 without a file)."""
    from pipeline.cameras import load_cameras

    path = settings.resolved_cameras_path
    if path is None:
        return 0
    stored = load_cameras(path, registry, warehouse)
    log.info("camera inventory: %d cameras from %s", stored, path)
    return stored


@contextlib.contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    settings.require_pseudonym_key()
    with contextlib.ExitStack() as stack:
        if settings.broker_url == "embedded":
            broker = stack.enter_context(
                EmbeddedBroker(log_file=_ensure_dir(settings) / "tansu.log")
            )
            bootstrap = broker.bootstrap
            log.info("embedded Tansu broker on %s", bootstrap)
        else:
            bootstrap = bootstrap_servers(settings.broker_url)
        topics = settings.topics
        brokers = Brokers.from_settings(settings, bootstrap)
        ensure_topics(
            brokers,
            topics.all(),
            settings.partitions,
            compacted={topics.checkpoints},
            replication_factor=settings.replication_factor,
        )
        # Watermark origins are numbered by the setting: the feed topics must match it.
        feeds = list(topics.feeds().values())
        check_feed_partitions(partition_counts(brokers, feeds), settings.partitions)
        # A server that is down at start-up is waited for, as a running worker waits for it.
        retry = RetryPolicy.from_settings(settings)
        metrics = Metrics()
        log.info("opening the warehouse %s", settings.warehouse_display)  # never its password
        warehouse = stack.enter_context(
            call_with_retry(
                lambda: open_warehouse(settings.resolved_warehouse_url),
                retry,
                "connection",
                on_retry=metrics.warehouse_retry("connection"),
            )
        )
        applied = call_with_retry(
            lambda: migrate(warehouse, retention=settings.retention),
            retry,
            "migration",
            on_retry=metrics.warehouse_retry("migration"),
        )
        for name in applied:
            log.info("warehouse migration applied: %s", name)
        registry = load_admin_registry(settings)
        store_admin_units(registry, warehouse)
        store_camera_inventory(settings, registry, warehouse)
        ctx = NormalizeContext.from_settings(settings, registry)
        seeded = seed_dedupe(ctx, warehouse)
        log.info("dedupe index seeded with %d ids from the warehouse", seeded)
        yield Runtime(
            settings=settings,
            bootstrap=bootstrap,
            registry=registry,
            warehouse=warehouse,
            normalize=ctx,
            sealer=Sealer(settings.pseudonym_secret()),
            metrics=metrics,
        )


def _ensure_dir(settings: Settings):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir
