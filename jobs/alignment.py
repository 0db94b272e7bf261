"""Release fetched feed records across partitions in timestamp order.

A fetch brings up to ``fetch_max_bytes`` per partition, and a busy feed's megabyte spans
minutes of traffic while a quiet feed's spans hours. Handed on as fetched, a backlog (a worker
catching up after a stop, a replay) would reach the correlators far out of arrival order, and
alerts of the slower partitions would fall behind the watermark and be dead-lettered as late.
So, like Kafka Streams' timestamp-ordered task input, records are held back until every
partition that still has unread records has been fetched up to their timestamp. A partition
that has been read to its end (its high watermark) does not hold the others back. Held records
are neither processed nor committed: after a rebalance or a failure they are fetched again.
"""

from __future__ import annotations

import asyncio
from operator import attrgetter

import numpy as np
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError

__all__ = ["TimeAligner", "position_or_unknown"]

_timestamp = attrgetter("timestamp")


async def position_or_unknown(consumer, tp: TopicPartition) -> int:
    """The partition's position, or -1 while it is not known yet. Never waits long: the
    caller holds the lock a rebalance waits for, and a position is only settled after it."""
    try:
        return await asyncio.wait_for(consumer.position(tp), timeout=0.05)
    except (TimeoutError, IllegalStateError):  # not known yet, or no longer assigned
        return -1


class TimeAligner:
    """Holds records of the aligned topics until it is safe to release them."""

    def __init__(self, topics: set[str]) -> None:
        self.topics = topics
        self._held: dict[TopicPartition, list] = {}
        self._stamps: dict[TopicPartition, np.ndarray] = {}
        self._last_seen: dict[TopicPartition, int] = {}  # newest timestamp fetched per partition

    def add(self, polled: dict[TopicPartition, list]) -> dict[TopicPartition, list]:
        """Take the records of aligned topics; return the others untouched."""
        passed = {}
        for tp, records in polled.items():
            if tp.topic not in self.topics:
                passed[tp] = records
                continue
            stamps = np.fromiter(map(_timestamp, records), np.int64, len(records))
            self._held[tp] = self._held.get(tp, []) + records
            self._stamps[tp] = np.concatenate([self._stamps.get(tp, np.empty(0, np.int64)), stamps])
            self._last_seen[tp] = max(self._last_seen.get(tp, -1), int(stamps.max()))
        return passed

    async def release(self, consumer) -> dict[TopicPartition, list]:
        """Every held record no partition with unread records can still precede."""
        released: dict[TopicPartition, list] = {}
        while True:
            waiting = await self._unread(consumer)
            safe = min((self._last_seen.get(tp, -1) for tp in waiting), default=None)
            moved = False
            for tp in list(self._held):
                stamps = self._stamps[tp]
                n = len(stamps) if safe is None else int(np.searchsorted(stamps, safe, "right"))
                if n == 0:
                    continue
                released.setdefault(tp, []).extend(self._held[tp][:n])
                self._held[tp], self._stamps[tp] = self._held[tp][n:], stamps[n:]
                if not self._held[tp]:
                    del self._held[tp], self._stamps[tp]
                moved = True
            if not moved:
                break
        return released

    async def _unread(self, consumer) -> list[TopicPartition]:
        """Aligned partitions that may still bring records older than what is held: those
        not read to their end, and those holding records (their timestamps bound the rest)."""
        out = []
        for tp in consumer.assignment():
            if tp.topic not in self.topics:
                continue
            if tp in self._held:
                out.append(tp)
                continue
            end = consumer.highwater(tp)
            if end is None or await position_or_unknown(consumer, tp) < end:
                out.append(tp)
        return out

    def holding(self) -> set[TopicPartition]:
        """The partitions with records held back."""
        return set(self._held)

    def full(self, limit: int) -> set[TopicPartition]:
        """Partitions holding at least ``limit`` records (to pause until they drain)."""
        return {tp for tp, records in self._held.items() if len(records) >= limit}

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Drop what is held for ``partitions`` (revoked, or sought back after a failure)."""
        for tp in partitions:
            self._held.pop(tp, None)
            self._stamps.pop(tp, None)
            self._last_seen.pop(tp, None)
