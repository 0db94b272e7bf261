"""Normalise stage: one per feed topic, a poll's records in, envelopes and dead letters out."""

from __future__ import annotations

import asyncio
import logging

from pipeline.normalize import normalize, normalize_each

from ..consumer import Polled, Stage
from ..producer import BatchProducer
from ..publish import city_projection, publish_deadletters, publish_normalized
from ..runtime import Runtime

__all__ = ["normalize_stage"]

log = logging.getLogger(__name__)


def normalize_stage(runtime: Runtime, producer: BatchProducer, source: str) -> Stage:
    """The stage for feed ``source``: normalise, publish, wait for the delivery reports."""
    projection = city_projection(runtime)
    metrics = runtime.metrics

    async def normalize_feed(polled: Polled) -> None:
        values = polled.values
        try:
            batch = normalize(source, values, runtime.normalize)
        except Exception:  # a bug, not bad input: keep the worker alive, keep the evidence
            log.exception("normalising %d %s messages failed; retrying one by one",
                          len(values), source)
            batch = normalize_each(source, values, runtime.normalize)
        deliveries = await publish_normalized(producer, runtime, batch, projection)
        deliveries += await publish_deadletters(
            producer, runtime, source, polled.records, batch.rejects, batch.alert_ids_of_rejects
        )
        runtime.progress.mark_produced(await asyncio.gather(*deliveries))
        metrics.received.labels(source).inc(len(values))
        metrics.normalized.labels(source).inc(len(batch.alerts))
        metrics.duplicates.labels(source).inc(batch.duplicates)
        metrics.unknown_enum.labels(source).inc(batch.unknown_enum)

    return Stage(f"normalize_{source}", runtime.settings.topics.feed(source), normalize_feed)
