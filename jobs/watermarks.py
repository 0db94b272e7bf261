"""The normalise stage's watermark marks: progress per feed partition, and the idle timer.

After each normalise batch, every feed partition in it declares its progress (the largest
event time of the alerts normalised from it so far, those dropped as duplicates included) and
its next offset to every partition of
``alerts.normalized``, in the same send as the batch's envelopes and after them
(:func:`jobs.publish.publish_normalized`), so a correlator reads a partition's marks after the
alerts they speak for. Records the normaliser dead-letters do not count: a record stamped days
ahead (``future_time``) or one that is not even an alert says nothing about where the feed is,
and counting it would make the feed's next good alerts late.

A feed partition this worker holds that has been read to its end, with nothing of it waiting
or in a batch, and that has published nothing for ``idle_mark_s``, declares the **wall clock**
instead, and again at every tick of the idle timer (a few per ``idle_mark_s``) until it brings
an alert again (the only place the wall clock enters the watermark; from then on the mark is a
record in the log, so re-correlating the log gives the same results). That is what moves a quiet
district's windows, and what lets a feed partition that has never had a record stop holding
every correlator back.

After a restart or a rebalance, the worker that gets a feed partition restores its progress
from the marks on ``alerts.normalized`` (:meth:`FeedProgress.restore`): the progress of the
newest mark whose offset is at most the partition's committed offset, which is the progress
of exactly the records before it, the same as the previous holder had when it committed. So
the alerts it normalises next carry the progress an uninterrupted run would have stamped on
them, and are judged late or not as they would have been. Duplicates dropped here count
towards the progress, because after a restart the alerts already stored are dropped as
duplicates of the warehouse's ids, where an uninterrupted run published them. Correlators keep
the largest progress per origin, so no origin ever moves back.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from pipeline.alerts import SOURCE_CODE
from pipeline.marks import NO_PROGRESS, Marks, Origins, origin_ids
from pipeline.settings import Settings

__all__ = ["FeedProgress"]

log = logging.getLogger(__name__)


class FeedProgress:
    """Per origin (feed partition): the progress declared so far, and when it last declared."""

    def __init__(self, settings: Settings) -> None:
        self.partitions = settings.partitions
        self.idle_s = settings.idle_mark_s
        self.source_of = {topic: source for source, topic in settings.topics.feeds().items()}
        self._progress: dict[int, int] = {}  # origin -> largest event time declared
        self._offset: dict[int, int] = {}  # origin -> next offset its progress speaks for
        self._active: dict[int, float] = {}  # origin -> monotonic time it last declared

    def restore(self, progress: dict[int, int], offsets: dict[int, int]) -> None:
        """Feed partitions assigned: ``progress`` of origins whose progress at their
        committed ``offsets`` was found (:func:`jobs.mark_reader.progress_at`). An origin
        not in ``progress`` starts from nothing (its first alerts carry no progress)."""
        for o, offset in offsets.items():  # loop per feed partition assigned
            self._offset[o] = offset
            if o in progress:
                self._progress[o] = progress[o]
            else:
                self._progress.pop(o, None)

    def _marks(self, due: list[int], held: set[int] | None = None) -> Marks:
        """Marks of ``due``, with the offsets of those ``held`` (None: all of them)."""
        return Marks(
            np.array(due, np.int64),
            np.array([self._progress[o] for o in due], np.int64),
            np.array(
                [self._offset.get(o, -1) if held is None or o in held else -1 for o in due],
                np.int64,
            ),
        )

    def origins(self, topic: str, feed_partitions: np.ndarray) -> np.ndarray:
        """Origin ids of records of feed ``topic`` read from ``feed_partitions``."""
        return origin_ids(SOURCE_CODE[self.source_of[topic]], feed_partitions, self.partitions)

    def after_batch(
        self, origin: np.ndarray, event_ms: np.ndarray, next_offset: dict[int, int] | None = None
    ) -> tuple[Origins, Marks]:
        """A batch's alerts came from ``origin`` with ``event_ms``, each origin's in its feed
        partition's order: where each came from with its origin's progress before it, and
        the batch's marks (one per origin among them, its progress including this batch, and
        ``next_offset[origin]``, the offset after the batch's last record of it).
        Nothing changes until :meth:`published` says the batch is out: a batch that failed is
        normalised again, and must carry the same progress again."""
        before = np.full(len(origin), NO_PROGRESS, np.int64)
        if not len(origin):
            return Origins(origin.astype(np.int64), before), Marks.empty()
        order = np.argsort(origin, kind="stable")  # each origin's alerts keep their order
        starts = np.flatnonzero(np.r_[True, np.diff(origin[order]) != 0])
        distinct = origin[order][starts].astype(np.int64)
        progress = np.empty(len(distinct), np.int64)
        for i, (o, rows) in enumerate(
            zip(distinct.tolist(), np.split(order, starts[1:]), strict=True)
        ):
            # loop per origin: a running maximum, starting from what it declared before
            run = np.maximum.accumulate(
                np.r_[self._progress.get(o, NO_PROGRESS), event_ms[rows]].astype(np.int64)
            )
            before[rows] = run[:-1]
            progress[i] = run[-1]
        next_offset = next_offset or {}
        offsets = np.array([next_offset.get(o, -1) for o in distinct.tolist()], np.int64)
        return Origins(origin.astype(np.int64), before), Marks(distinct, progress, offsets)

    def published(self, marks: Marks) -> None:
        """A batch's envelopes and ``marks`` are on the broker: its origins have declared."""
        now = time.monotonic()
        for o, t, f in zip(
            marks.origin.tolist(), marks.progress_ms.tolist(), marks.offsets().tolist(), strict=True
        ):
            self._progress[o] = max(self._progress.get(o, t), t)
            self._active[o] = now
            if f >= 0:
                self._offset[o] = f

    def idle(self, quiet: set[int], now_ms: int | None = None) -> Marks:
        """Wall-clock marks for the origins in ``quiet`` (read to their end, nothing of theirs
        waiting) that have published no alert for ``idle_s``: at every call from then on, so
        the watermark follows the wall clock within one timer tick. The first call that sees
        an origin quiet starts its clock."""
        now = time.monotonic()
        wall = int(time.time() * 1000) if now_ms is None else now_ms
        due = []
        for o in sorted(quiet):  # loop per feed partition held
            since = self._active.setdefault(o, now)
            if now - since >= self.idle_s:
                self._progress[o] = max(self._progress.get(o, wall), wall)
                due.append(o)
        return self._marks(due)

    def drained(self, origins: set[int], held: set[int] | None = None) -> Marks:
        """The input is complete (a worker run ``--until-drained``): each of ``origins``
        declares the largest progress of any origin seen here, since nothing older can come
        in this run; so correlators stand where one watermark over all the input would put
        them, as a backfill without a final flush does. The marks of origins not ``held``
        (None: all are) carry no offset: this worker does not know where they stand.
        Nothing when nothing was normalised."""
        if not self._progress:
            return Marks.empty()
        top = max(self._progress.values())
        for o in origins:  # loop per feed partition
            self._progress[o] = max(self._progress.get(o, top), top)
        return self._marks(sorted(origins), held)
