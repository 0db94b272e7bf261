"""Sink stages: topics into warehouse tables, in batches.

Writes are idempotent (ReplacingMergeTree keyed by alert id, incident id, flag id and version,
notice event id, or Kafka coordinates for dead letters), so a batch re-delivered after a crash
leaves the tables as if written once. Halo copies of alerts exist for correlators only and are
never stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
import numpy as np
import pyarrow as pa

from pipeline.deadletter import DeadLetter
from pipeline.outputs import FlagMessage, IncidentMessage
from pipeline.patrol import NoticeEvent
from pipeline.warehouse import RetryPolicy, insert_with_retry
from pipeline.warehouse.alert_columns import alert_columns, distinct
from pipeline.warehouse.rows import deadletter_rows, flag_rows, incident_rows, notice_event_rows

from ..consumer import Polled, Stage
from ..failpoints import failpoint
from ..runtime import Runtime

__all__ = ["alerts_sink", "record_sink_stage", "RECORD_SINKS"]

log = logging.getLogger(__name__)


async def _write(
    runtime: Runtime, table: str, rows: dict, count: int, *, distinct_keys: bool = False
) -> None:
    if count:
        # Returns only once the batch is written: while ClickHouse is down this blocks (with
        # backoff), so the batch's messages stay unacknowledged and their offsets uncommitted.
        policy = RetryPolicy.from_settings(runtime.settings)
        await insert_with_retry(
            runtime.warehouse,
            table,
            rows,
            policy,
            distinct_keys=distinct_keys,
            on_retry=runtime.metrics.warehouse_retry("insert", table),
        )
        runtime.metrics.warehouse_rows.labels(table).inc(count)


def alerts_sink(runtime: Runtime) -> Callable[..., Awaitable[None]]:
    """Writes a poll's normalised alerts (an :func:`~pipeline.envelope.envelope_table`) to the
    alerts table, from their columns (halo copies only exist on ``alerts.normalized``, so each
    alert is written once), each with its feed partition (``origin``)."""

    async def sink_alerts(alerts: pa.Table, origin: np.ndarray | None = None) -> None:
        if not alerts.num_rows:
            return
        rows = alert_columns(alerts, int(time.time() * 1000), origin)
        failpoint("warehouse-insert", after_s=0.005)
        # A redelivered record may repeat an id within one batch: only a batch without
        # repeats lets the warehouse skip merging equal keys (see Warehouse.insert).
        await _write(
            runtime, "alerts", rows, alerts.num_rows, distinct_keys=distinct(rows["alert_id"])
        )

    return sink_alerts


#: table → (record type, rows builder)
RECORD_SINKS: dict[str, tuple[type, Callable]] = {
    "deadletters": (DeadLetter, deadletter_rows),
    "incidents": (IncidentMessage, incident_rows),
    "flags": (FlagMessage, flag_rows),
    "notice_events": (NoticeEvent, notice_event_rows),
}


def record_sink_stage(runtime: Runtime, table: str, topic: str) -> Stage:
    """Sink for a topic of msgspec records (dead letters, incidents, flags) into ``table``."""
    record_type, build_rows = RECORD_SINKS[table]
    decoder = msgspec.json.Decoder(record_type)

    def decode_each(polled: Polled) -> list:
        """Slow path, for a batch holding a record this pipeline did not write: skip it."""
        records = []
        for record, value in zip(polled.records, polled.values, strict=True):
            try:
                records.append(decoder.decode(value))
            except msgspec.DecodeError as exc:
                log.error(
                    "%s[%d]@%d is not a %s record, not stored: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    record_type.__name__,
                    exc,
                )
        return records

    async def sink_records(polls: list[Polled]) -> None:
        (polled,) = polls
        try:
            records = list(map(decoder.decode, polled.values))
        except msgspec.DecodeError:
            records = decode_each(polled)
        await _write(runtime, table, build_rows(records), len(records))

    return Stage(f"sink_{table}", (topic,), sink_records, every_s=runtime.settings.sink_every_s)
