"""The worker's consume → handle → commit loop: one aiokafka consumer for every input topic.

Why not Faust's agents: a Faust stream turns every message into an ``Event`` with its own
ack, sensor calls and buffer hops. Measured on this machine (benchmarks/README.md, issue 6)
that capped the worker at about 5k alerts/s while it sat idle, waiting for ``take_events``,
against 300k/s for raw aiokafka. Here a poll hands each stage all the records it fetched for
its topic at once, as columns, and the Faust app stays the frame: it starts and stops this
loop as one of its services, serves ``/metrics`` and runs the timers.

Delivery is at-least-once. A poll's offsets are committed only after every stage that read it
has finished: its records are on the broker (delivery reports awaited) and its warehouse
writes are done. A stage that raises has its partitions sought back to the first record of
the failed poll (a stateful stage: to its restored state's offset), and is retried after a
pause; the worker keeps running. Rebalancing waits for the poll in progress, so a revoked
partition's work is committed (and its state checkpointed) before another worker gets it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

import mode
import numpy as np
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from pipeline.kafka import BatchProducer, group_consumer, stop_group_consumer

from .alignment import TimeAligner, position_or_unknown
from .runtime import Runtime

__all__ = ["Polled", "Stage", "BatchConsumer"]

log = logging.getLogger(__name__)

_values = attrgetter("value")
_timestamp = attrgetter("timestamp")


@dataclass(frozen=True, slots=True)
class Polled:
    """The records of one topic from one poll; each partition's records are contiguous and in
    offset order. ``partitions[i]`` is the partition of ``records[i]``."""

    topic: str
    records: list
    values: list[bytes]
    partitions: np.ndarray
    last_offsets: dict[int, int]

    @classmethod
    def of(cls, topic: str, parts: dict[int, list]) -> Polled:
        records = list(chain.from_iterable(parts.values()))
        partitions = np.repeat(np.fromiter(parts, np.int32), [len(r) for r in parts.values()])
        values = [v or b"" for v in map(_values, records)]
        return cls(topic, records, values, partitions, {p: r[-1].offset for p, r in parts.items()})


@dataclass(frozen=True, slots=True)
class Stage:
    """What the worker does with the records of its topics. ``handle`` gets one
    :class:`Polled` per topic that had records and returns once its outputs are delivered and
    written; ``revoked`` is told which partitions (of its first topic) this worker lost
    (None: all, the worker stops). A stateful stage has ``resume``: given partitions of its
    first topic (just assigned, or whose batch failed), it restores their state and says
    where each one's input resumes (an offset, or None: its earliest record); a stage without
    it resumes at the committed offsets, or at the first record of a failed batch. ``assigned``
    is told, before anything is fetched, which partitions of its topics this worker got and
    their committed offsets (None: nothing committed), e.g. to restore what the stage keeps
    about each (a failure there is logged; the stage goes on without it). With
    ``aligned``, its topics' records are released in
    timestamp order across partitions (see :mod:`jobs.alignment`). ``every_s`` is the
    shortest time between the starts of two of its batches: records that come meanwhile wait
    and go together (for a sink, whose every insert has a fixed cost)."""

    name: str
    topics: tuple[str, ...]
    handle: Callable[[list[Polled]], Awaitable[None]]
    revoked: Callable[[set[int] | None], Awaitable[None]] | None = None
    resume: Callable[[set[int]], Awaitable[dict[int, int | None]]] | None = None
    assigned: Callable[[dict[TopicPartition, int | None]], Awaitable[None]] | None = None
    aligned: bool = False
    every_s: float = 0.0


class _Lane:
    """A stage, the records it has yet to take, and its batch in progress."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.pending: dict[TopicPartition, list] = {}
        self.task: asyncio.Task | None = None
        self.running: set[TopicPartition] = set()  # the partitions of the batch in progress
        self.started = -math.inf  # monotonic time its last batch started

    def due(self, hurry: bool = False) -> bool:
        """Records wait, no batch runs, and the stage's ``every_s`` has passed (or is waived)."""
        return (
            bool(self.pending)
            and self.task is None
            and (hurry or time.monotonic() - self.started >= self.stage.every_s)
        )

    def take(self, limit: int) -> list[Polled]:
        """About ``limit`` of the waiting records (the earliest, for an aligned stage); the rest
        wait for the next batch. A backlog in one batch would leave the stages after this one
        idle until all of it is done, instead of working on its first part meanwhile."""
        taken = self._cut(limit)
        by_topic: dict[str, dict[int, list]] = {}
        for tp, count in taken.items():
            records = self.pending[tp]
            by_topic.setdefault(tp.topic, {})[tp.partition] = records[:count]
            if count < len(records):
                self.pending[tp] = records[count:]
            else:
                del self.pending[tp]
        return [
            Polled.of(topic, by_topic[topic]) for topic in self.stage.topics if topic in by_topic
        ]

    def _cut(self, limit: int) -> dict[TopicPartition, int]:
        """How many records of each partition the next batch takes (each partition's first)."""
        sizes = {tp: len(records) for tp, records in self.pending.items()}
        if sum(sizes.values()) <= limit:
            return sizes
        if not self.stage.aligned:  # no order across partitions to keep
            taken, left = {}, limit
            for tp, size in sizes.items():
                if left > 0:
                    taken[tp], left = min(size, left), left - min(size, left)
            return taken
        # Aligned: every record up to the limit-th earliest timestamp, so the feeds stay in
        # arrival order across batches (each partition's stamps ascend, as the aligner holds).
        stamps = {
            tp: np.fromiter(map(_timestamp, records), np.int64, len(records))
            for tp, records in self.pending.items()
        }
        cut = np.partition(np.concatenate(list(stamps.values())), limit - 1)[limit - 1]
        taken = {tp: int(np.searchsorted(s, cut, "right")) for tp, s in stamps.items()}
        return {tp: n for tp, n in taken.items() if n}

    def backlog(self) -> int:
        return sum(map(len, self.pending.values()))


class BatchConsumer(mode.Service):
    """Polls every stage's topic in one consumer group and feeds each stage whole polls.

    Stages work side by side: while the correlator works on one batch, the normalise stage
    takes the next. A busy stage's records wait in its lane and go to it together when it is
    free; a lane holding ``batch_max`` records, or an aligned partition holding that many, has
    its partitions paused, which bounds memory.
    """

    def __init__(
        self, runtime: Runtime, producer: BatchProducer, stages: Iterable[Stage], **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.producer = producer
        self.lanes = [_Lane(stage) for stage in stages]
        self.lane_of = {topic: lane for lane in self.lanes for topic in lane.stage.topics}
        aligned = {t for lane in self.lanes if lane.stage.aligned for t in lane.stage.topics}
        self.aligner = TimeAligner(aligned)
        self.consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()  # rebalancing waits for the dispatch in progress
        self._stopping = False
        self._holding = False  # no new batches start (rebalancing, stopping)
        self._hurried = False  # every_s waived: the worker drains to stop
        self._loop_task: asyncio.Task | None = None
        # Seeks so far, and the count at each partition's last one: a poll that began before
        # a partition was sought brings records from its old position, to be dropped.
        self._seeks = 0
        self._sought: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}  # next offset to process, for the lag
        self._lag_series: set[TopicPartition] = set()
        for lane in self.lanes:
            for topic in lane.stage.topics:
                runtime.progress.register(lane.stage.name, topic)

    def assignment(self) -> set[TopicPartition]:
        return set() if self.consumer is None else self.consumer.assignment()

    def highwater(self, tp: TopicPartition) -> int | None:
        return None if self.consumer is None else self.consumer.highwater(tp)

    async def on_start(self) -> None:
        await self.producer.start()
        self.consumer = group_consumer(self.runtime.bootstrap, self.runtime.settings)
        self.consumer.subscribe(list(self.lane_of), listener=_Rebalance(self))
        await self.consumer.start()
        self._loop_task = asyncio.ensure_future(self._run())
        self._loop_task.add_done_callback(self._loop_ended)

    def _loop_ended(self, task: asyncio.Task) -> None:
        """A poll loop that died of a bug crashes the worker, rather than leave it idle."""
        if not task.cancelled() and task.exception() is not None:
            asyncio.ensure_future(self.crash(task.exception()))

    async def on_stop(self) -> None:
        self._stopping = True
        if self._loop_task is not None:
            await asyncio.wait([self._loop_task], timeout=60)
        await self._finish_running()
        for lane in self.lanes:
            if lane.stage.revoked is not None:
                await lane.stage.revoked(None)
        if self.consumer is not None:
            await stop_group_consumer(self.consumer)
        await self.producer.stop()

    async def _run(self) -> None:
        settings = self.runtime.settings
        while not self._stopping:
            seeks = self._seeks
            try:
                polled = await self.consumer.getmany(
                    timeout_ms=int(settings.batch_within_s * 1000),
                    max_records=settings.batch_max,
                )
            except KafkaError as exc:  # the broker away for a while: keep trying
                log.warning("polling failed (%s); retrying in 1 s", exc)
                await asyncio.sleep(1.0)
                continue
            async with self._lock:
                polled = {tp: r for tp, r in polled.items() if self._sought.get(tp, 0) <= seeks}
                ready = self.aligner.add(polled)
                ready.update(await self.aligner.release(self.consumer))
                for tp, records in ready.items():
                    self.lane_of[tp.topic].pending.setdefault(tp, []).extend(records)
                self._dispatch()
                self._flow_control()
                self._report_lag(polled)

    def _dispatch(self) -> None:
        """Start every free stage that has records waiting and whose ``every_s`` has passed."""
        for lane in self.lanes:
            if lane.due(self._hurried) and not self._holding:
                lane.started = time.monotonic()
                polls = lane.take(self.runtime.settings.batch_max)
                lane.running = {TopicPartition(p.topic, n) for p in polls for n in p.last_offsets}
                lane.task = asyncio.ensure_future(self._work(lane, polls))

    async def quiet(self, topics: set[str]) -> set[TopicPartition]:
        """Assigned partitions of ``topics`` read to their end, with nothing of theirs held,
        waiting or in a batch: those an idle watermark mark may speak for."""
        if self.consumer is None:
            return set()
        busy = self.aligner.holding()
        for lane in self.lanes:
            busy |= set(lane.pending) | lane.running
        quiet = set()
        for tp in self.assignment():  # loop per partition held
            if tp.topic not in topics or tp in busy:
                continue
            end = self.consumer.highwater(tp)
            if end is not None and await position_or_unknown(self.consumer, tp) >= end:
                quiet.add(tp)
        return quiet

    def hurry(self) -> None:
        """Waive every stage's ``every_s`` from now on: the worker drains its input to stop,
        so a sink's last records would only wait for nothing more to join them."""
        self._hurried = True
        self._dispatch()

    def _flow_control(self) -> None:
        limit = self.runtime.settings.batch_max
        full = self.aligner.full(limit) | {
            tp for lane in self.lanes if lane.backlog() >= limit for tp in lane.pending
        }
        paused = self.consumer.paused()
        if full - paused:
            self.consumer.pause(*(full - paused))
        if paused - full:
            self.consumer.resume(*(paused - full))

    def _report_lag(self, polled: dict[TopicPartition, list]) -> None:
        """Consumer lag of each partition held: its high watermark (from the last fetch) minus
        the next offset to process (after the last committed batch; before one, the first
        record fetched). A loop per partition, once a poll."""
        for tp, records in polled.items():
            if records:
                self._next.setdefault(tp, records[0].offset)
        held = self.consumer.assignment()
        gauge = self.runtime.metrics.consumer_lag
        for tp in self._lag_series - held:  # revoked: another worker reports it
            gauge.remove(tp.topic, str(tp.partition))
            self._next.pop(tp, None)
        self._lag_series &= held
        for tp in held:
            end = self.consumer.highwater(tp)
            if end is not None:  # fetched at least once
                gauge.labels(tp.topic, str(tp.partition)).set(end - self._next.get(tp, end))
                self._lag_series.add(tp)

    async def _work(self, lane: _Lane, polls: list[Polled]) -> None:
        stage = lane.stage
        began, started = time.perf_counter(), time.monotonic()
        try:
            await stage.handle(polls)
        except Exception:  # noqa: BLE001 - a failing batch must not stop the worker
            log.exception(
                "%s: a batch of %d records failed; it will be retried",
                stage.name,
                sum(len(p.records) for p in polls),
            )
            await self._rewind(lane, polls)
            await asyncio.sleep(1.0)  # a failing dependency: do not spin
        else:
            metrics = self.runtime.metrics
            metrics.stage_seconds.labels(stage.name).observe(time.perf_counter() - began)
            metrics.stage_records.labels(stage.name).inc(sum(len(p.records) for p in polls))
            await self._commit(polls)
            for batch in polls:
                self.runtime.progress.mark_offsets(
                    stage.name, batch.topic, batch.last_offsets, len(batch.records), started
                )
        finally:
            lane.task, lane.running = None, set()
        self._dispatch()

    async def _commit(self, polls: list[Polled]) -> None:
        offsets = {
            TopicPartition(batch.topic, p): offset + 1
            for batch in polls
            for p, offset in batch.last_offsets.items()
        }
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:  # redelivered after the rebalance; sinks are idempotent
            log.warning("committing offsets failed (%s); they will be processed again", exc)
        else:
            self._next.update(offsets)

    async def _rewind(self, lane: _Lane, polls: list[Polled]) -> None:
        """Fetch a failed batch again: from the stage's restored state, or from the batch's
        first record in each partition."""
        if lane.stage.resume is not None:
            topic = lane.stage.topics[0]
            await self._resume(lane, {p for b in polls if b.topic == topic for p in b.last_offsets})
            return
        for batch in polls:
            for partition, first in _firsts(batch).items():
                tp = TopicPartition(batch.topic, partition)
                self._forget(lane, tp)
                try:
                    self.consumer.seek(tp, first)
                except IllegalStateError:  # revoked meanwhile: its next owner starts over
                    pass

    async def _resume(self, lane: _Lane, partitions: set[int]) -> None:
        """Restore ``partitions`` of the lane's first topic and seek each to where its state
        resumes; whatever was fetched for them meanwhile is dropped."""
        topic = lane.stage.topics[0]
        try:
            resumes = await lane.stage.resume(partitions)
        except Exception as exc:  # without its state a partition must not go on: stop
            log.error("%s: restoring partitions %s failed", lane.stage.name, sorted(partitions))
            asyncio.ensure_future(self.crash(exc))
            raise
        for partition, offset in resumes.items():
            tp = TopicPartition(topic, partition)
            self._forget(lane, tp)
            try:
                if offset is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, offset)
            except IllegalStateError:  # revoked meanwhile: its next owner resumes it
                pass

    def _forget(self, lane: _Lane, tp: TopicPartition) -> None:
        """Drop what was fetched for ``tp``, and what a poll in flight brings: it is sought."""
        self.aligner.forget({tp})
        lane.pending.pop(tp, None)
        self._next.pop(tp, None)  # learnt again from the first record fetched after the seek
        self._seeks += 1
        self._sought[tp] = self._seeks

    async def _finish_running(self) -> None:
        self._holding = True
        running = [lane.task for lane in self.lanes if lane.task is not None]
        if running:
            await asyncio.wait(running, timeout=60)

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        """Finish and commit the batches in progress; forget what was fetched but not taken
        (it is fetched again from the committed offsets)."""
        async with self._lock:
            await self._finish_running()
            self.aligner.forget(revoked)
            for lane in self.lanes:
                for tp in revoked:
                    lane.pending.pop(tp, None)
                lost = {tp.partition for tp in revoked if tp.topic == lane.stage.topics[0]}
                if lost and lane.stage.revoked is not None:
                    await lane.stage.revoked(lost)
            self._holding = self._stopping

    async def assign(self, assigned: set[TopicPartition]) -> None:
        """Restore the stateful stages' newly assigned partitions before anything is fetched."""
        async with self._lock:
            for lane in self.lanes:
                topic = lane.stage.topics[0]
                mine = {tp.partition for tp in assigned if tp.topic == topic}
                if mine and lane.stage.resume is not None:
                    await self._resume(lane, mine)
                got = {tp for tp in assigned if tp.topic in lane.stage.topics}
                if got and lane.stage.assigned is not None:
                    await self._assigned(lane.stage, got)

    async def _assigned(self, stage: Stage, got: set[TopicPartition]) -> None:
        try:
            committed = {tp: await self.consumer.committed(tp) for tp in sorted(got)}
            await stage.assigned(committed)
        except Exception:  # noqa: BLE001 - what it restores is an improvement, not a must
            log.exception("%s: telling it of its new partitions failed", stage.name)


def _firsts(batch: Polled) -> dict[int, int]:
    """First offset of each partition in ``batch``."""
    starts = np.flatnonzero(np.r_[True, np.diff(batch.partitions) != 0])
    return {int(batch.partitions[i]): batch.records[i].offset for i in starts}


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: BatchConsumer) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked) -> None:
        await self.service.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        await self.service.assign(set(assigned))
