"""Normalise stage: the four feed topics in; envelopes, dead letters and alerts-table rows out.

One stage for all four feeds, so that a poll's alerts reach ``alerts.normalized`` interleaved
in arrival order (record timestamps), whichever feed they came from. The alerts table is
written here, from the batch's columns, once the envelopes are published: building rows from
decoded envelopes downstream cost more main-thread time than normalising (issue 6). Each alert
carries its origin (feed partition), and the batch's watermark marks follow its envelopes
(:mod:`jobs.watermarks`).
"""

from __future__ import annotations

import asyncio
import logging
from operator import attrgetter

import numpy as np
import pyarrow as pa
from aiokafka import TopicPartition

from pipeline.alerts import SOURCES
from pipeline.envelope import envelope_table
from pipeline.kafka import BatchProducer
from pipeline.marks import origin_count
from pipeline.normalize import NormalizedBatch, normalize, normalize_each
from pipeline.routing import TileRouting

from ..consumer import Polled, Stage
from ..mark_reader import progress_at
from ..publish import publish_deadletters, publish_normalized
from ..runtime import Runtime
from ..watermarks import FeedProgress
from .sink import alerts_sink

__all__ = ["normalize_stage"]

log = logging.getLogger(__name__)

_timestamp = attrgetter("timestamp")


def _arrival_ranks(polls: list[Polled]) -> list[np.ndarray]:
    """Per poll, the rank of each record in timestamp order across all polls (ties keep
    partition and offset order)."""
    stamps = [np.fromiter(map(_timestamp, p.records), np.int64, len(p.records)) for p in polls]
    merged = np.concatenate(stamps)
    ranks = np.empty(len(merged), np.int64)
    ranks[np.argsort(merged, kind="stable")] = np.arange(len(merged))
    return np.split(ranks, np.cumsum([len(s) for s in stamps])[:-1])


def normalize_stage(
    runtime: Runtime, producer: BatchProducer, progress: FeedProgress | None = None
) -> Stage:
    """Normalise, publish envelopes, marks and dead letters and write the alerts table; the
    batch is done once the delivery reports are in and the rows are written. ``progress``:
    the feed partitions' progress, shared with the idle timer (:mod:`jobs.watermarks`)."""
    progress = FeedProgress(runtime.settings) if progress is None else progress
    routing = TileRouting.from_settings(runtime.settings, runtime.registry)
    metrics = runtime.metrics
    feeds = runtime.settings.topics.feeds()
    source_of = {topic: source for source, topic in feeds.items()}
    store_alerts = alerts_sink(runtime)

    def _normalize(source: str, values: list[bytes], origin: np.ndarray) -> NormalizedBatch:
        ctx = runtime.normalize
        try:
            return normalize(source, values, ctx, remember=False, origin=origin)
        except Exception:  # a bug, not bad input: keep the worker alive, keep the evidence
            log.exception(
                "normalising %d %s messages failed; retrying one by one", len(values), source
            )
            return normalize_each(source, values, ctx, remember=False, origin=origin)

    async def normalize_feeds(polls: list[Polled]) -> None:
        batches, arrival, published_origins, deliveries = [], [], [], []
        seen_origin, seen_ms, published_at, next_offset = [], [], [], {}
        at = 0
        for poll, ranks in zip(polls, _arrival_ranks(polls), strict=True):
            source = source_of[poll.topic]
            origin = progress.origins(poll.topic, poll.partitions)  # one per record
            batch = _normalize(source, poll.values, origin)
            batches.append(batch)
            arrival.append(ranks[batch.index])
            published_origins.append(origin[batch.index])
            # Every alert of the poll, duplicates too, in offset order: how far each feed
            # partition got (jobs.watermarks); and where the published ones are among them.
            slots = np.concatenate([batch.index, batch.duplicate_index])
            order = np.argsort(slots, kind="stable")
            seen_origin.append(origin[slots[order]])
            seen_ms.append(np.concatenate([batch.alerts.event_ms, batch.duplicate_event_ms])[order])
            position = np.empty(len(order), np.int64)
            position[order] = np.arange(len(order))
            published_at.append(at + position[: len(batch.index)])
            at += len(order)
            for partition, last in poll.last_offsets.items():
                next_offset[int(progress.origins(poll.topic, [partition])[0])] = last + 1
            deliveries += await publish_deadletters(
                producer, runtime, source, poll.records, batch.rejects, batch.alert_ids_of_rejects
            )
            metrics.received.labels(source).inc(len(poll.values))
            metrics.normalized.labels(source).inc(len(batch.alerts))
            metrics.duplicates.labels(source).inc(batch.duplicates)
            metrics.unknown_enum.labels(source).inc(batch.unknown_enum)
        # Built once: the same columns are published and stored.
        alerts = pa.concat_tables([envelope_table(b, runtime.registry) for b in batches])
        seen, marks = progress.after_batch(
            np.concatenate(seen_origin), np.concatenate(seen_ms), next_offset
        )
        came_from = seen.take(np.concatenate(published_at))
        deliveries += await publish_normalized(
            producer, runtime, alerts, np.concatenate(arrival), routing, came_from, marks
        )
        runtime.progress.mark_produced(await asyncio.gather(*deliveries))
        progress.published(marks)
        # Stored only once published: a restarted worker takes the stored ids as duplicates
        # (seed_dedupe), so an alert stored but not yet published when the worker was killed
        # would never reach a correlator.
        await store_alerts(alerts, came_from.origin)
        for batch, origin in zip(batches, published_origins, strict=True):
            # only now: a retried batch must not look like duplicates
            runtime.normalize.dedupe.remember(batch.alerts.alert_id, batch.alerts.event_ms, origin)

    async def restore_progress(committed: dict[TopicPartition, int | None]) -> None:
        """Each feed partition got resumes with the progress of its committed offset
        (:mod:`jobs.mark_reader`); one with nothing committed starts from nothing."""
        at = {
            int(progress.origins(tp.topic, [tp.partition])[0]): offset
            for tp, offset in committed.items()
            if offset is not None
        }
        settings = runtime.settings
        found = await progress_at(
            runtime.brokers, settings.topics.normalized, at, origin_count(settings.partitions)
        )
        progress.restore(found, at)
        if len(found) < len(at):
            log.info(
                "no watermark mark at the committed offset of origins %s: their first alerts "
                "carry no progress",
                sorted(set(at) - set(found)),
            )

    return Stage(
        "normalize",
        tuple(feeds[s] for s in SOURCES),
        normalize_feeds,
        assigned=restore_progress,
        aligned=True,
    )
