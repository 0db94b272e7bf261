"""Alerts that carried no progress: a copy of one is a duplicate whenever it comes.

A normaliser stamps each alert with its origin's progress before it, except where it has none:
the first alert of a feed partition it took with no watermark mark to restore (a new
deployment, or marks gone with the topic's retention). Such an alert is judged by the classic
rule (:meth:`.event_time.EventWindow.admit`): a duplicate while its first copy's row is
retained, else late when behind its origin's progress. A normaliser killed before committing
redelivers it, again without progress, and if the window has passed it by then, the copy is
late by that rule: a dead letter the uninterrupted run never wrote, for an alert it admitted
(found by the redelivery property test in ``tests/correlate/test_engine.py``, 2026-12-07).

So the correlator remembers the keys of these alerts, whether admitted or dead-lettered, and a
later one with the same key is a duplicate. They are few, one per feed partition and start
with nothing to restore, so the last :data:`CAPACITY` are kept, in the correlator's snapshot.
Only first copies are added, so the memory is the same with or without redeliveries.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UnjudgedKeys", "CAPACITY"]

#: keys kept: years of restarts without a mark to restore
CAPACITY = 4096


class UnjudgedKeys:
    """Keys of alerts that carried no progress, the newest :data:`CAPACITY`."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.uint64)

    def __len__(self) -> int:
        return len(self.keys)

    def again(self, unjudged: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Of the batch's ``unjudged`` alerts (none a duplicate within the batch), those seen
        before; remember the others."""
        rows = np.flatnonzero(unjudged)
        again = np.zeros(len(keys), bool)
        if not len(rows):
            return again
        seen = np.isin(keys[rows], self.keys)
        again[rows[seen]] = True
        self.keys = np.concatenate([self.keys, keys[rows[~seen]]])[-CAPACITY:]
        return again

    def state(self) -> dict[str, np.ndarray]:
        return {"keys": self.keys.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.keys = np.asarray(state["keys"], np.uint64)
