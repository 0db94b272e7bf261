"""Sink agents: normalised alerts and dead letters into the warehouse, in batches.

Writes are idempotent (ReplacingMergeTree keyed by alert id, or by Kafka coordinates for dead
letters), so a batch re-delivered after a crash leaves the tables as if written once. Halo
copies exist for correlators only and are never stored.
"""

from __future__ import annotations

import asyncio
from itertools import compress

import msgspec

from pipeline.deadletter import DeadLetter
from pipeline.envelope import decode_envelopes
from pipeline.sinks import alert_rows, deadletter_rows

from ..runtime import Runtime

__all__ = ["alerts_sink_agent", "deadletter_sink_agent"]


def alerts_sink_agent(app, runtime: Runtime):
    settings = runtime.settings

    async def sink_alerts(stream):
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            batch = decode_envelopes([e.message.value for e in events], runtime.registry)
            primary = list(compress(batch.envelopes, ~batch.halo))
            if primary:
                rows = alert_rows(primary)
                await asyncio.to_thread(runtime.warehouse.insert, "alerts", rows)
                runtime.metrics.warehouse_rows.labels("alerts").inc(len(primary))
            runtime.progress.mark_batch([event.message for event in events])

    return sink_alerts


_DEADLETTER_DECODER = msgspec.json.Decoder(DeadLetter)


def deadletter_sink_agent(app, runtime: Runtime):
    settings = runtime.settings

    async def sink_deadletters(stream):
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            records = [_DEADLETTER_DECODER.decode(e.message.value) for e in events]
            await asyncio.to_thread(
                runtime.warehouse.insert, "deadletters", deadletter_rows(records)
            )
            runtime.metrics.warehouse_rows.labels("deadletters").inc(len(records))
            runtime.progress.mark_batch([event.message for event in events])

    return sink_deadletters

