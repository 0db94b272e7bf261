"""Drop alerts already seen: same feed, id and origin within a horizon of event time.

Ids are held as 64-bit hashes (:func:`pipeline.correlate.window.buffer.alert_keys`, the keys the
correlator dedupes on too) with their event time: about 40 bytes an id, where a ``dict`` of
``str`` to ``int`` took about 200, and the default horizon is a day of alerts. Two different
ids share a key with probability about ``n**2 / 2**65`` for ``n`` ids held: 3e-8 for a
million, so a fresh alert dropped as a "duplicate" is not expected in the lifetime of a city.

An id is a duplicate while its last sighting is at least the newest event time seen minus the
horizon (:class:`~pipeline.key_times.KeyTimes` holds each key's time, so an id reused after the
horizon goes on at once); what is older is removed from memory in bulk every ``prune_every``
batches, which changes no decision. The index is rebuilt after a restart from the
warehouse (see :meth:`DedupeIndex.seed`), which holds every alert the previous run delivered;
anything delivered in between is still caught downstream because the correlator and the
warehouse are idempotent on ``alert_id``.

**Per origin.** The live worker passes each alert's origin (its feed partition,
:mod:`pipeline.marks`): a copy of an alert read from another feed partition (a message without
a key, redelivered by the feed) is not a duplicate here. Whether one worker reads both feed
partitions or two workers one each, both copies then reach the correlators, which judge each
by its own origin's progress and drop the second one admitted
(:mod:`pipeline.correlate.window.event_time`), and the alerts table collapses them
(ReplacingMergeTree on the alert id). Dropping it here would make its fate depend on whether
the worker that read it had seen the other copy. The key of an (id, origin) pair is the id's
key mixed with the origin, so the index stays one set. The warehouse keeps each alert's origin,
so a restarted worker seeds the index per origin too; ids stored without one (before the
column existed) are held apart and match every origin until they leave the horizon.
"""

from __future__ import annotations

import numpy as np

from pipeline.correlate.window.buffer import alert_keys
from pipeline.key_times import KeyTimes

__all__ = ["DedupeIndex"]

_MIX = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit constant (Fibonacci hashing)


def _keys(alert_ids: np.ndarray, origin: np.ndarray | None) -> np.ndarray:
    """The index's keys: the ids' keys, mixed with their origins when given."""
    keys = alert_keys(alert_ids)
    if origin is None:
        return keys
    return keys ^ ((np.asarray(origin, np.uint64) + np.uint64(1)) * _MIX)


class DedupeIndex:
    def __init__(self, horizon_ms: int, prune_every: int = 64) -> None:
        self.horizon_ms = int(horizon_ms)
        self._known = KeyTimes()
        # ids delivered before a restart without their origin: a duplicate from any origin
        self._seeded = KeyTimes()
        self._newest_ms = np.iinfo(np.int64).min
        self._batches = 0
        self._prune_every = prune_every

    def __len__(self) -> int:
        return len(self._known) + len(self._seeded)

    @property
    def _cutoff(self) -> int:
        """Sightings before this are forgotten (int64 min while nothing is known)."""
        return max(self._newest_ms - self.horizon_ms, np.iinfo(np.int64).min)

    def seed(
        self, alert_ids: np.ndarray, event_ms: np.ndarray, origin: np.ndarray | None = None
    ) -> None:
        """Remember alerts delivered before a restart, of ``origin`` (the warehouse keeps
        each alert's; -1 or None: not known, a duplicate from any origin)."""
        if len(alert_ids) == 0:
            return
        times = np.asarray(event_ms, np.int64)
        known = np.zeros(len(alert_ids), bool) if origin is None else np.asarray(origin) >= 0
        if known.any():
            self.remember(alert_ids[known], times[known], np.asarray(origin)[known])
        if (~known).any():
            self._seeded.put(alert_keys(alert_ids[~known]), times[~known])
            self._newest_ms = max(self._newest_ms, int(times[~known].max()))

    def first_sightings(
        self, alert_ids: np.ndarray, event_ms: np.ndarray, origin: np.ndarray | None = None
    ) -> np.ndarray:
        """Boolean mask of the alerts to keep, and remember them.

        Keeps the first occurrence of each id (of each origin, given ``origin``) in the batch
        unless it is already known.
        """
        keep = self.unseen(alert_ids, origin)
        self.remember(alert_ids[keep], event_ms[keep], None if origin is None else origin[keep])
        return keep

    def unseen(self, alert_ids: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
        """Mask of first occurrences of ids (per origin, given ``origin``) not known yet;
        remembers nothing (see remember)."""
        keep = np.zeros(len(alert_ids), dtype=bool)
        if len(alert_ids) == 0:
            return keep
        keys = _keys(alert_ids, origin)
        _, first = np.unique(keys, return_index=True)
        keep[first] = True
        keep &= ~self._known.seen_since(keys, self._cutoff)
        if len(self._seeded):
            keep &= ~self._seeded.seen_since(alert_keys(alert_ids), self._cutoff)
        return keep

    def remember(
        self, alert_ids: np.ndarray, event_ms: np.ndarray, origin: np.ndarray | None = None
    ) -> None:
        """Record ids (of ``origin``) as delivered (call once their batch has been fully
        processed)."""
        if len(alert_ids) == 0:
            return
        times = np.asarray(event_ms, np.int64)
        self._known.put(_keys(alert_ids, origin), times)
        self._newest_ms = max(self._newest_ms, int(times.max()))
        self._batches += 1
        if self._batches % self._prune_every == 0:
            self.prune()

    def prune(self) -> None:
        """Free the memory of ids older than the horizon (they are already ignored)."""
        for held in (self._known, self._seeded):
            if held.oldest() < self._cutoff:  # else nothing to forget: skip the rebuild
                held.forget_before(self._cutoff)
