"""The correlate stage's state: one correlator per partition of ``alerts.normalized`` this worker
holds, checkpointed to the compacted checkpoints topic with the input offset it covers.

A partition's correlator is a pure function of the records of its partition (the engine gives
the same output however the stream is cut into batches), so state plus offset is all a worker
needs to continue another's work exactly: when a partition is assigned, its newest checkpoint is
restored and the partition is read again from the checkpoint's offset. The records after it are
processed a second time and re-emit the same flags and incidents (same ids and versions), which
every sink stores idempotently. A checkpoint is written only after the outputs of every record
it covers are delivered, so nothing between the checkpoint and a crash is ever lost.

Checkpoints are written every ``checkpoint_every_s`` or ``checkpoint_every_rows`` (whichever
comes first), when a partition is revoked and when the worker stops. Each writes what changed
since the last one: the window's settled rows are parts written once
(:mod:`pipeline.correlate.window.settled_rows`), so a checkpoint's cost follows the input, not
the window. A checkpoint that cannot be
restored (unreadable, another format, params or partition count) is reported and the partition
is rebuilt from the start of its retained input, never crash-looped on.

A partition's notices (:class:`~pipeline.patrol.NoticeBook`) live in the same checkpoint as
its correlator (:mod:`pipeline.patrol.state`): they follow the same log, restore
with it and re-read from the same offset, so their timers and acks replay exactly as well.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, replace

from aiokafka.errors import KafkaError

from pipeline.correlate import Baseline, Correlator
from pipeline.correlate.baseline.store import newest_baseline, prior_baseline
from pipeline.correlate.exceptions import SnapshotError
from pipeline.correlate.warm_up import warm_up
from pipeline.exceptions import BrokerError, CheckpointError
from pipeline.kafka import BatchProducer
from pipeline.kafka.checkpoints import (
    Checkpoint,
    Written,
    latest_checkpoint,
    read_state,
    write_checkpoint,
)
from pipeline.marks import origin_count
from pipeline.patrol import NoticeBook, PatrolParams
from pipeline.patrol.state import join_state, split_state
from pipeline.routing import TileRouting

from ..failpoints import failpoint
from ..runtime import Runtime

__all__ = ["PartitionCorrelators"]

log = logging.getLogger(__name__)

#: Where a partition resumes: an offset, or None for the start of its retained records.
Resume = int | None


@dataclass
class _Held:
    """A partition's correlator and how far it is from its last checkpoint."""

    correlator: Correlator
    offset: Resume  # next input offset; None until a record was processed or restored
    generation: int  # of the last checkpoint written or restored (-1: none)
    rows: int = 0  # alerts taken since that checkpoint
    since: float = 0.0  # monotonic time of that checkpoint (or of taking the partition)
    notices: NoticeBook | None = None  # its notices; None: none restored, an empty book
    written: Written = Written()  # what the state topic holds of the partition


class PartitionCorrelators:
    """The correlators of the partitions this worker holds, and their checkpoints in Kafka."""

    def __init__(self, runtime: Runtime, producer: BatchProducer) -> None:
        self.runtime = runtime
        self.producer = producer
        settings = runtime.settings
        self.routing = TileRouting.from_settings(settings, runtime.registry)
        self.projection = self.routing.projection
        self.params = settings.correlation
        self.origins = origin_count(settings.partitions)
        self.topic = settings.topics.checkpoints
        self.patrol = PatrolParams.from_settings(settings)
        self._held: dict[int, _Held] = {}

    def warm_up(self) -> threading.Thread:
        """Load the correlator's kernels in a thread while the worker joins its group, so
        that the first batch does not wait for them (:mod:`pipeline.correlate.warm_up`)."""

        def run() -> None:
            try:
                baseline = prior_baseline(self.runtime.settings)
                warm_up(Correlator(self.params, self.projection, baseline, self.origins))
            except Exception:  # only time is lost: the first batch loads what is missing
                log.exception("warming the correlator up failed")

        thread = threading.Thread(target=run, name="correlator-warm-up", daemon=True)
        thread.start()
        return thread

    def _baseline(self) -> Baseline:
        # the newest `hotspot baseline fit`
        return newest_baseline(self.runtime.warehouse, self.runtime.settings)

    def get(self, partition: int) -> Correlator:
        """The partition's correlator. A partition is restored when assigned; one seen without
        (a record fetched before its assignment was settled) starts empty."""
        if partition not in self._held:
            self._held[partition] = self._empty()
        return self._held[partition].correlator

    def notices(self, partition: int) -> NoticeBook:
        """The partition's notices (after :meth:`get`)."""
        held = self._held[partition]
        if held.notices is None:
            held.notices = NoticeBook(partition, self.patrol)
        return held.notices

    def _empty(self) -> _Held:
        correlator = Correlator(self.params, self.projection, self._baseline(), self.origins)
        return _Held(correlator, None, -1)

    # --- taking partitions over ---------------------------------------------------------------

    async def resume(self, partitions: set[int]) -> dict[int, Resume]:
        """Restore each partition from its newest checkpoint (dropping what this worker held
        of it); return where its input resumes."""
        count = len(await self.producer.partitions(self.runtime.settings.topics.normalized))
        state = await self._read_state(partitions)
        resumes = {}
        for partition in sorted(partitions):
            held = self._restore(partition, state[partition], count)
            held.since = time.monotonic()
            self._held[partition] = held
            resumes[partition] = held.offset
        return resumes

    async def _read_state(self, partitions: set[int], attempts: int = 5) -> dict:
        """The partitions' checkpoint records; the broker is given a few tries (about 30 s)
        before the error goes up and stops the worker: going on without the state would
        silently correlate from an empty window."""
        for attempt in range(attempts):
            try:
                return await read_state(self.runtime.brokers, self.topic, partitions)
            except (BrokerError, KafkaError) as exc:
                if attempt == attempts - 1:
                    raise BrokerError(
                        f"cannot read {self.topic} to restore partitions {sorted(partitions)}: "
                        f"{exc}; check the broker, then restart the worker"
                    ) from exc
                log.warning("reading %s failed (%s); retrying", self.topic, exc)
                await asyncio.sleep(2.0 * 2**attempt)

    def _restore(self, partition: int, state: dict[bytes, bytes], count: int) -> _Held:
        metrics = self.runtime.metrics
        checkpoint = None
        try:
            checkpoint = latest_checkpoint(state, partition)
            if checkpoint is None:
                log.info("partition %d: no checkpoint yet; reading it from the start", partition)
                metrics.restores.labels("empty").inc()
                return replace(self._empty(), written=Written.read(state, None))
            held = self._from_checkpoint(checkpoint, count)
        except CheckpointError as exc:
            log.error("%s; rebuilding it from the start of its retained input", exc)
            metrics.restores.labels("refused").inc()
            # Its parts are written again and its keys retired by the next checkpoint, which
            # follows its generation, in the other key slot: a writer killed half-way then
            # leaves the refused one as it was (and refused for its own reason), instead of
            # mixing chunks into its slot.
            generation = -1 if checkpoint is None else checkpoint.generation
            written = Written.read(state, None)
            return replace(self._empty(), generation=generation, written=written)
        held.written = Written.read(state, checkpoint)
        log.info(
            "partition %d: restored the checkpoint of offset %d (generation %d, %d bytes)",
            partition,
            checkpoint.offset,
            checkpoint.generation,
            checkpoint.size,
        )
        metrics.restores.labels("restored").inc()
        return held

    def _from_checkpoint(self, checkpoint: Checkpoint, count: int) -> _Held:
        partition = checkpoint.partition
        if checkpoint.partitions != count:
            raise CheckpointError(
                partition,
                f"it was written when {self.runtime.settings.topics.normalized} had "
                f"{checkpoint.partitions} partitions, and it has {count} now: a partition's "
                "state means nothing once tiles move between partitions. Re-correlate from the "
                f"start with a new {self.topic} topic (or set the partition count back)",
            )
        try:
            correlator_state, notices_state = split_state(checkpoint.state)
            restored = Correlator.restore(
                correlator_state,
                self.params,
                self.projection,
                self._baseline(),
                self.origins,
                parts=checkpoint.parts,
            )
            notices = (
                None
                if notices_state is None
                else NoticeBook.restore(notices_state, partition, self.patrol)
            )
        except (SnapshotError, ValueError) as exc:
            raise CheckpointError(partition, str(exc)) from exc
        return _Held(
            restored,
            checkpoint.offset,
            checkpoint.generation,
            notices=notices,
        )

    # --- checkpoints --------------------------------------------------------------------------

    def processed(self, partition: int, next_offset: int, rows: int) -> None:
        """Record that ``partition``'s correlator took ``rows`` alerts, up to ``next_offset``."""
        self.get(partition)  # a partition whose records were all dead-lettered has none yet
        held = self._held[partition]
        held.offset = next_offset
        held.rows += rows

    def took_acks(self, partition: int, acks: int) -> None:
        """Count ``acks`` applied to ``partition``'s notices toward its next checkpoint, as
        alerts are (a partition that only gets acks and marks is checkpointed too)."""
        self.get(partition)
        self._held[partition].rows += acks

    async def checkpoint_due(self) -> None:
        """Checkpoint every partition past ``checkpoint_every_s`` or ``checkpoint_every_rows``
        since its last one."""
        settings, now = self.runtime.settings, time.monotonic()
        due = {
            p
            for p, held in self._held.items()
            if held.rows >= settings.checkpoint_every_rows
            or (held.rows and now - held.since >= settings.checkpoint_every_s)
        }
        await self.checkpoint(due)

    async def checkpoint(self, partitions: set[int]) -> None:
        """Write the partitions' checkpoints and wait until the broker has them."""
        count = len(await self.producer.partitions(self.runtime.settings.topics.normalized))
        for partition in sorted(partitions & set(self._held)):
            held = self._held[partition]
            if held.offset is None:  # nothing processed: nothing to save
                continue
            began = time.perf_counter()
            correlator, parts = await asyncio.to_thread(held.correlator.checkpoint)
            checkpoint = Checkpoint(
                partition=partition,
                partitions=count,
                offset=held.offset,
                state=join_state(correlator, self.notices(partition).snapshot()),
                generation=held.generation + 1,
                written_ms=int(time.time() * 1000),
                parts=parts,
            )
            held.written = await write_checkpoint(
                self.producer, self.topic, checkpoint, held.written, failpoint=failpoint
            )
            held.generation, held.rows, held.since = checkpoint.generation, 0, time.monotonic()
            self._observe(checkpoint, time.perf_counter() - began)

    def _observe(self, checkpoint: Checkpoint, seconds: float) -> None:
        metrics, label = self.runtime.metrics, str(checkpoint.partition)
        metrics.checkpoint_seconds.observe(seconds)
        metrics.checkpoint_bytes.labels(label).set(checkpoint.size)
        metrics.checkpoint_written.labels(label).set(checkpoint.written_ms / 1000)

    async def release(self, partitions: set[int] | None) -> None:
        """Checkpoint and forget the partitions this worker no longer holds (None: all of them,
        the worker stops)."""
        lost = set(self._held) if partitions is None else partitions
        await self.checkpoint(lost)
        for partition in lost:
            self._held.pop(partition, None)
