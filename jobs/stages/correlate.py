"""Correlate stage: normalised alerts in; incidents, hotspot flags and late dead letters out.

One :class:`~pipeline.correlate.Correlator` per partition of ``alerts.normalized``: a partition
holds whole tiles (plus halo copies of alerts near their edges), so its correlator sees every
alert that can touch the cells it owns. A correlator only publishes flags and incidents whose
centre lies in a tile of its own partition; the neighbour that owns the tile publishes the rest.

A partition's watermark marks (:mod:`pipeline.marks`) go to its correlator between its
alerts, in offset order (:mod:`jobs.stages.normalized_poll`), so results do not depend on poll
boundaries. Each correlator's state is checkpointed to Kafka with the offset it covers, and
restored by whichever worker takes its partition next (:mod:`jobs.stages.correlators`).

Each partition also keeps the notices of its flags (:mod:`pipeline.patrol`): acks come as
records between its alerts, notice events go to ``hotspots.notices`` keyed by the unit they are
addressed to first, and refused acks to the dead letters with their reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

import msgspec
import numpy as np
import pyarrow as pa

from pipeline.alerts import SOURCES
from pipeline.correlation_loop import FAILED_DETAIL, LATE_DETAIL, PartitionResult
from pipeline.deadletter import Reason
from pipeline.envelope import EnvelopeBatch, rows_as_json
from pipeline.feeds.decode import Reject
from pipeline.kafka import BatchProducer
from pipeline.marks import Marks
from pipeline.patrol import NoticeEvent, PartitionAcks, PatrolResult, patrol_partition

from ..consumer import Polled, Stage
from ..failpoints import failpoint
from ..publish import publish_deadletters
from ..runtime import Runtime
from .correlators import PartitionCorrelators
from .normalized_poll import split_poll

__all__ = ["correlate_stage"]

log = logging.getLogger(__name__)


class _AlertRecord(NamedTuple):
    """Where a dead-lettered alert came from: the record that held it (topic, partition,
    offset), and its own row as JSON (the record holds thousands of other alerts)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def _alert_records(polled: Polled, decoded: EnvelopeBatch, rows: np.ndarray) -> list[_AlertRecord]:
    """One per row of ``decoded`` in ``rows`` (few: late or failed alerts)."""
    records = decoded.record[rows]
    distinct, inverse = np.unique(records, return_inverse=True)
    # Their records' tables end to end (no copy): one take for all the rows.
    firsts = np.searchsorted(decoded.record, distinct)  # a record's rows are contiguous
    sizes = np.array([decoded.tables[r].num_rows for r in distinct.tolist()])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    at = rows - firsts[inverse] + starts[inverse]
    tables = pa.concat_tables([decoded.tables[r] for r in distinct.tolist()])
    values = rows_as_json(tables, at.tolist())
    origins = [polled.records[r] for r in records.tolist()]  # loop per dead letter: few
    return [
        _AlertRecord(o.topic, o.partition, o.offset, None, v)
        for o, v in zip(origins, values, strict=True)
    ]


encode = msgspec.json.Encoder().encode
_NONE = np.empty(0, np.int64)


def _rows(results: list[PartitionResult], name: str) -> np.ndarray:
    return np.concatenate([getattr(r, name) for r in results] or [_NONE])


def correlate_stage(runtime: Runtime, producer: BatchProducer) -> Stage:
    """The stage on ``alerts.normalized``: records are decoded into the correlator's columns
    once, then correlated per partition (the normalise stage wrote the alerts table)."""
    correlators = PartitionCorrelators(runtime, producer)
    correlators.warm_up()
    threads = asyncio.Semaphore(runtime.settings.correlator_threads)
    topics = runtime.settings.topics

    async def correlate(polls: list[Polled]) -> None:
        (polled,) = polls
        # Off the event loop's thread: Arrow decompresses and reads without the interpreter lock.
        split = await asyncio.to_thread(split_poll, polled, runtime.registry, correlators.origins)
        decoded, bad = split.decoded, split.bad
        by_partition = split.rows(polled)
        patrolled = await asyncio.gather(
            *(
                _correlate_partition(p, decoded, rows, split.marks.get(p), split.acks.get(p))
                for p, rows in by_partition.items()
            )
        )
        results = [r.result for r in patrolled]
        for partition, acks in split.acks.items():  # an ack changes state a checkpoint keeps
            correlators.took_acks(partition, len(acks.index))
        # Published together: one record batch per topic and partition for the whole poll.
        incidents = [i for r in results for i in r.incidents]
        flags = [f for r in results for f in r.flags]
        deliveries = await _dead_records(polled, bad)
        deliveries += await producer.send_keyed(
            topics.incidents,
            [i.incident_id.encode() for i in incidents],
            list(map(encode, incidents)),
        )
        deliveries += await producer.send_keyed(
            topics.flags, [f.flag_id.encode() for f in flags], list(map(encode, flags))
        )
        deliveries += await _notice_events([e for r in patrolled for e in r.events])
        deliveries += await _refused_acks(polled, patrolled)
        deliveries += await _dead_alerts(
            polled, decoded, _rows(results, "late"), Reason.LATE, LATE_DETAIL
        )
        deliveries += await _dead_alerts(
            polled,
            decoded,
            _rows(results, "failed"),
            Reason.INTERNAL_ERROR,
            FAILED_DETAIL,
        )
        runtime.metrics.flags.inc(len(flags))
        runtime.metrics.incidents.inc(len(incidents))
        runtime.progress.mark_produced(await asyncio.gather(*deliveries))
        failpoint("outputs-delivered")
        # Only now, with every output delivered, may a checkpoint cover these records.
        for partition, last in polled.last_offsets.items():
            rows = by_partition.get(partition)
            owned = 0 if rows is None else int(np.count_nonzero(~decoded.halo[rows]))
            correlators.processed(partition, last + 1, owned)  # halo copies are not its rows
        await correlators.checkpoint_due()

    async def _dead_records(polled: Polled, bad: list[Reject]) -> list:
        """Someone else's records on our topic: dead-lettered whole, the rest go on."""
        if not bad:
            return []
        log.error(
            "%d records on %s are not envelope records; dead-lettering them (%s)",
            len(bad),
            polled.topic,
            bad[0].detail,
        )
        return await publish_deadletters(producer, runtime, "correlate", polled.records, bad)

    async def _correlate_partition(
        partition: int,
        decoded: EnvelopeBatch,
        rows: np.ndarray,
        marks: tuple[np.ndarray, Marks] | None,
        acks: PartitionAcks | None,
    ) -> PatrolResult:
        halo = decoded.halo[rows]
        async with threads:
            try:  # its state and baseline are loaded on first use, here on the loop's thread
                correlator = correlators.get(partition)
            except Exception:  # a bug: as a batch the correlator failed on, the rest goes on
                log.exception("partition %d: loading its correlator failed", partition)
                return PatrolResult(PartitionResult.failed_on(rows, halo), [], [])
            result = await asyncio.to_thread(
                patrol_partition,
                correlator,
                correlators.notices(partition),
                partition,
                decoded.alerts,
                rows,
                halo,
                correlators.routing,
                runtime.registry,
                decoded.origins,
                marks,
                acks,
            )
        runtime.metrics.observe_correlator(partition, correlator.watermark, correlator.open_flags)
        return result

    async def _notice_events(events: list[NoticeEvent]) -> list:
        """Notice events, each keyed by the unit it is addressed to first (its station; the
        district for an escalation), so a unit's client reads its own partition."""
        if not events:
            return []
        keys = [(e.addressed_to[0] if e.addressed_to else e.notice_id).encode() for e in events]
        for event in events:  # loop per notice event: a few per slide
            runtime.metrics.notice_events.labels(event.kind).inc()
        return await producer.send_keyed(topics.notices, keys, list(map(encode, events)))

    async def _refused_acks(polled: Polled, patrolled: list[PatrolResult]) -> list:
        """Acks a notice refused (unknown, another unit, before it, duplicate): dead letters
        with the reason, the rest of the poll goes on."""
        rejects = [
            Reject(index, refusal.reason, refusal.detail)
            for r in patrolled
            for index, refusal in r.refused
        ]
        return await publish_deadletters(producer, runtime, "acks", polled.records, rejects)

    async def _dead_alerts(
        polled: Polled, decoded: EnvelopeBatch, rows: np.ndarray, reason: Reason, detail: str
    ) -> list:
        """Dead letters for ``rows`` of ``decoded``, per feed (loop per feed)."""
        if not len(rows):
            return []
        records = _alert_records(polled, decoded, rows)
        sources = decoded.alerts.source[rows]
        alert_ids = dict(enumerate(decoded.alerts.alert_id[rows].tolist()))
        deliveries = []
        for code in np.unique(sources).tolist():
            rejects = [Reject(i, reason, detail) for i in np.flatnonzero(sources == code).tolist()]
            deliveries += await publish_deadletters(
                producer, runtime, SOURCES[code], records, rejects, alert_ids
            )
        return deliveries

    async def revoked(partitions: set[int] | None) -> None:
        await correlators.release(partitions)
        runtime.metrics.forget_partitions(partitions)

    return Stage(
        "correlate", (topics.normalized,), correlate, revoked=revoked, resume=correlators.resume
    )
