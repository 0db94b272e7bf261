"""Alerts already dead-lettered as late: a second copy is dropped, not dead-lettered again.

A late alert leaves no row in the window, so the window's keys cannot tell that a copy of it
was seen. Copies come from a normaliser that redelivers its uncommitted tail after a restart
(the same alert, the same declared progress: late again), and from a message without a key
that the feed redelivered into another feed partition (late by its own origin too). Without
this memory each copy would be a dead letter of its own, at its own offset of
``alerts.normalized``, so a run with kills, or with another split of the feed partitions over
the workers, would dead-letter some alerts twice where an uninterrupted run does once.

Only alerts that carry their origin's declared progress are remembered (the live worker's; a
backfill has no redeliveries), each until the window's horizon passes the progress it was
judged against. A copy usually comes within a normaliser batch or two of the first, but the
window can pass it first: the redelivered tail held a tick, or an idle mark followed it, that
moved every origin on. So a late alert judged against a progress older than what the memory
has forgotten is taken for such a copy: a first copy carries at least its origin's progress,
which is past every horizon (:mod:`.event_time`). One full-suite run (2026-12-07, commit
1421fb6) dead-lettered five late camera alerts twice after the kills, all in the tail that
held the test's closing ticks.

The memory is part of the correlator's snapshot. Late alerts are few (about 1 % of a city's),
so plain arrays and ``np.isin`` over the batch's late rows cost little.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LateKeys"]

_NO_TIME = np.iinfo(np.int64).min


class LateKeys:
    """Keys of alerts dead-lettered as late, each with the progress it was judged against."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.uint64)
        self.until = np.empty(0, np.int64)
        #: alerts judged against a progress before this may have been forgotten
        self.forgotten_before = _NO_TIME

    def __len__(self) -> int:
        return len(self.keys)

    def again(self, late: np.ndarray, keys: np.ndarray, declared: np.ndarray) -> np.ndarray:
        """Of the batch's ``late`` alerts, those already dead-lettered (in an earlier batch,
        earlier in this one, or judged against a progress this memory has forgotten), and
        remember the others; ``declared``: the progress each was judged against."""
        rows = np.flatnonzero(late)
        again = np.zeros(len(keys), bool)
        if not len(rows):
            return again
        seen = np.isin(keys[rows], self.keys) | (declared[rows] < self.forgotten_before)
        _, first = np.unique(keys[rows], return_index=True)
        repeat = np.ones(len(rows), bool)
        repeat[first] = False
        again[rows[seen | repeat]] = True
        new = rows[~(seen | repeat)]
        self.keys = np.concatenate([self.keys, keys[new]])
        self.until = np.concatenate([self.until, declared[new]])
        return again

    def forget_before(self, horizon_ms: int | None) -> None:
        """Forget the alerts judged against a progress older than ``horizon_ms``."""
        if horizon_ms is None:
            return
        self.forgotten_before = max(self.forgotten_before, horizon_ms)
        if not len(self.keys):
            return
        keep = self.until >= horizon_ms
        if not keep.all():
            self.keys, self.until = self.keys[keep], self.until[keep]

    def state(self) -> dict[str, np.ndarray]:
        return {
            "keys": self.keys.copy(),
            "until": self.until.copy(),
            "forgotten_before": np.array([self.forgotten_before], np.int64),
        }

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.keys = np.asarray(state["keys"], np.uint64)
        self.until = np.asarray(state["until"], np.int64)
        # a snapshot from before this field: what it forgot is not known, nothing is assumed
        forgotten = state.get("forgotten_before", np.array([_NO_TIME]))
        self.forgotten_before = int(np.asarray(forgotten, np.int64)[0])
