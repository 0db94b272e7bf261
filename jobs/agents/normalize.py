"""Normalise agent: one per feed topic, batches in, envelopes and dead letters out."""

from __future__ import annotations

import asyncio
import logging

from pipeline.normalize import normalize, normalize_each

from ..publish import city_projection, publish_deadletters, publish_normalized
from ..runtime import Runtime

__all__ = ["normalize_agent"]

log = logging.getLogger(__name__)


def normalize_agent(app, runtime: Runtime, source: str):
    """The agent function for feed ``source`` (register it with ``app.agent(topic)``)."""
    settings = runtime.settings
    projection = city_projection(runtime)
    metrics = runtime.metrics

    async def normalize_feed(stream):
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            messages = [event.message for event in events]
            values = [message.value or b"" for message in messages]
            try:
                batch = normalize(source, values, runtime.normalize)
            except Exception:  # a bug, not bad input: keep the worker alive, keep the evidence
                log.exception("normalising %d %s messages failed; retrying one by one",
                              len(values), source)
                batch = normalize_each(source, values, runtime.normalize)
            futures = await publish_normalized(app, runtime, batch, projection)
            futures += await publish_deadletters(
                app, runtime, source, messages, batch.rejects, batch.alert_ids_of_rejects
            )
            runtime.progress.mark_produced(await asyncio.gather(*futures))
            metrics.received.labels(source).inc(len(values))
            metrics.normalized.labels(source).inc(len(batch.alerts))
            metrics.duplicates.labels(source).inc(batch.duplicates)
            metrics.unknown_enum.labels(source).inc(batch.unknown_enum)
            runtime.progress.mark_batch(f"normalize_{source}", messages)

    normalize_feed.__name__ = f"normalize_{source}"
    return normalize_feed
