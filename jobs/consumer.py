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
the failed poll, and is retried after a pause; the worker keeps running. Rebalancing waits for
the poll in progress, so a revoked partition's work is committed before another worker gets it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

import mode
import numpy as np
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from pipeline.settings import Settings

from .producer import BatchProducer
from .runtime import Runtime

__all__ = ["Polled", "Stage", "BatchConsumer"]

log = logging.getLogger(__name__)

_values = attrgetter("value")


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
    """What the worker does with one topic's records. ``handle`` returns once its outputs are
    delivered and written; ``revoked`` is told which of its partitions this worker lost
    (None: all, the worker stops)."""

    name: str
    topic: str
    handle: Callable[[Polled], Awaitable[None]]
    revoked: Callable[[set[int] | None], None] | None = None


class BatchConsumer(mode.Service):
    """Polls every stage's topic in one consumer group and runs the stages on each poll."""

    def __init__(self, runtime: Runtime, producer: BatchProducer, stages: Iterable[Stage],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.producer = producer
        self.stages = {stage.topic: stage for stage in stages}
        self.consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()  # held while a poll is handled; rebalancing waits for it
        self._stopping = False
        self._loop_task: asyncio.Task | None = None
        for stage in self.stages.values():
            runtime.progress.register(stage.name, stage.topic)

    def assignment(self) -> set[TopicPartition]:
        return set() if self.consumer is None else self.consumer.assignment()

    def highwater(self, tp: TopicPartition) -> int | None:
        return None if self.consumer is None else self.consumer.highwater(tp)

    async def on_start(self) -> None:
        await self.producer.start()
        self.consumer = _consumer(self.runtime.bootstrap, self.runtime.settings)
        self.consumer.subscribe(list(self.stages), listener=_Rebalance(self))
        await self.consumer.start()
        self._loop_task = asyncio.ensure_future(self._run())

    async def on_stop(self) -> None:
        self._stopping = True
        if self._loop_task is not None:
            await asyncio.wait([self._loop_task], timeout=60)
        for stage in self.stages.values():
            if stage.revoked is not None:
                stage.revoked(None)
        if self.consumer is not None:
            await self.consumer.stop()
        await self.producer.stop()

    async def _run(self) -> None:
        settings = self.runtime.settings
        while not self._stopping:
            polled = await self.consumer.getmany(
                timeout_ms=int(settings.batch_within_s * 1000), max_records=settings.batch_max
            )
            if polled:
                async with self._lock:
                    await self._handle(polled)

    async def _handle(self, polled: dict[TopicPartition, list]) -> None:
        by_topic: dict[str, dict[int, list]] = {}
        for tp, records in polled.items():
            by_topic.setdefault(tp.topic, {})[tp.partition] = records
        batches = [Polled.of(topic, parts) for topic, parts in by_topic.items()]
        done = await asyncio.gather(*(self._stage(batch) for batch in batches))
        offsets = {
            TopicPartition(batch.topic, p): offset + 1
            for batch, ok in zip(batches, done, strict=True) if ok
            for p, offset in batch.last_offsets.items()
        }
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except KafkaError as exc:  # redelivered after the rebalance; sinks are idempotent
                log.warning("committing offsets failed (%s); they will be processed again", exc)
        if not all(done):
            await asyncio.sleep(1.0)  # a failing dependency: do not spin

    async def _stage(self, batch: Polled) -> bool:
        stage = self.stages[batch.topic]
        try:
            await stage.handle(batch)
        except Exception:  # noqa: BLE001 - a failing batch must not stop the worker
            log.exception("%s: a batch of %d records failed; it will be retried",
                          stage.name, len(batch.records))
            for partition, first in _firsts(batch).items():
                self.consumer.seek(TopicPartition(batch.topic, partition), first)
            return False
        self.runtime.progress.mark_offsets(stage.name, batch.topic, batch.last_offsets,
                                           len(batch.records))
        return True

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:  # the poll in progress is handled and committed first
            for stage in self.stages.values():
                lost = {tp.partition for tp in revoked if tp.topic == stage.topic}
                if lost and stage.revoked is not None:
                    stage.revoked(lost)


def _firsts(batch: Polled) -> dict[int, int]:
    """First offset of each partition in ``batch``."""
    starts = np.flatnonzero(np.r_[True, np.diff(batch.partitions) != 0])
    return {int(batch.partitions[i]): batch.records[i].offset for i in starts}


def _consumer(bootstrap: str, settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.app_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Large fetches: a poll should bring whole batches, not a few hundred records.
        max_partition_fetch_bytes=settings.fetch_max_bytes,
        fetch_max_bytes=settings.fetch_max_bytes * 4,
        fetch_max_wait_ms=int(settings.batch_within_s * 1000),
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(min(3.0, settings.session_timeout_s / 3) * 1000),
        rebalance_timeout_ms=int(settings.rebalance_timeout_s * 1000),
    )


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: BatchConsumer) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked) -> None:
        await self.service.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        """Nothing to do: correlator state is loaded when its partition's first batch comes."""
