"""Sink agents: topics into warehouse tables, in batches.

Writes are idempotent (ReplacingMergeTree keyed by alert id, incident id, flag id and version,
or Kafka coordinates for dead letters), so a batch re-delivered after a crash leaves the tables
as if written once. Halo copies of alerts exist for correlators only and are never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress

import msgspec

from pipeline.deadletter import DeadLetter
from pipeline.envelope import decode_envelopes
from pipeline.outputs import FlagMessage, IncidentMessage
from pipeline.sinks import alert_rows, deadletter_rows, flag_rows, incident_rows

from ..runtime import Runtime

__all__ = ["alerts_sink_agent", "record_sink_agent", "RECORD_SINKS"]


async def _write(runtime: Runtime, table: str, rows: dict, count: int) -> None:
    if count:
        # Returns only once the batch is written: while ClickHouse is down this blocks (with
        # backoff), so the batch's messages stay unacknowledged and their offsets uncommitted.
        from pipeline.warehouse.retry import RetryPolicy, insert_with_retry

        policy = RetryPolicy.from_settings(runtime.settings)
        await insert_with_retry(runtime.warehouse, table, rows, policy)
        runtime.metrics.warehouse_rows.labels(table).inc(count)


def alerts_sink_agent(app, runtime: Runtime):
    settings = runtime.settings

    async def sink_alerts(stream):
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            batch = decode_envelopes([e.message.value for e in events], runtime.registry)
            primary = list(compress(batch.envelopes, ~batch.halo))
            await _write(runtime, "alerts", alert_rows(primary), len(primary))
            runtime.progress.mark_batch("sink_alerts", [event.message for event in events])

    return sink_alerts


#: table → (record type, rows builder)
RECORD_SINKS: dict[str, tuple[type, Callable]] = {
    "deadletters": (DeadLetter, deadletter_rows),
    "incidents": (IncidentMessage, incident_rows),
    "flags": (FlagMessage, flag_rows),
}


def record_sink_agent(app, runtime: Runtime, table: str):
    """Sink for a topic of msgspec records (dead letters, incidents, flags) into ``table``."""
    settings = runtime.settings
    record_type, build_rows = RECORD_SINKS[table]
    decoder = msgspec.json.Decoder(record_type)

    async def sink_records(stream):
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            records = list(map(decoder.decode, (e.message.value for e in events)))
            await _write(runtime, table, build_rows(records), len(records))
            runtime.progress.mark_batch(f"sink_{table}", [event.message for event in events])

    sink_records.__name__ = f"sink_{table}"
    return sink_records
