"""The ack intake stage: ``hotspots.acks`` in; ack records on ``alerts.normalized`` out.

A station's ack must reach the partition that owns its notice in that partition's log order,
as watermark marks do, so that re-reading the log (after a crash, a rebalance, a replay) applies
it at the same place among the alerts and marks and gives the same notice events. So this
stage only validates the raw ack, pseudonymises the officer id, and republishes it as a record
keyed ``hotspot.ack`` on the partition its notice id names; the correlate stage applies it
(:mod:`pipeline.patrol`). A malformed ack is dead-lettered here; the rest of the poll goes on.
"""

from __future__ import annotations

import asyncio

from pipeline.kafka import BatchProducer
from pipeline.patrol import ACK_KEY, route_acks

from ..consumer import Polled, Stage
from ..publish import publish_deadletters
from ..runtime import Runtime

__all__ = ["ack_intake_stage"]


def ack_intake_stage(runtime: Runtime, producer: BatchProducer) -> Stage:
    """Committed once the records and dead letters of a poll are on the broker."""
    settings = runtime.settings

    async def intake(polls: list[Polled]) -> None:
        (polled,) = polls
        sources = [f"{r.topic}/{r.partition}/{r.offset}" for r in polled.records]
        routed = route_acks(
            polled.values, sources, settings.partitions, runtime.normalize.pseudonymizer
        )
        runtime.metrics.received.labels("acks").inc(len(polled.values))
        deliveries = await publish_deadletters(
            producer, runtime, "acks", polled.records, routed.rejects
        )
        if routed.values:
            deliveries += await producer.send(
                settings.topics.normalized,
                routed.partitions,
                [ACK_KEY] * len(routed.values),
                routed.values,
            )
        runtime.progress.mark_produced(await asyncio.gather(*deliveries))

    return Stage("acks", (settings.topics.acks,), intake)
