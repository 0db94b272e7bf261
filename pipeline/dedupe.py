"""Drop alerts already seen: same feed and id within a horizon of event time.

Ids are kept with their event time; whatever is older than the newest event time seen minus
the horizon is forgotten, in bulk every ``prune_every`` batches so the cost is amortised. The
index is rebuilt after a restart from the warehouse (see :meth:`DedupeIndex.seed`), which holds
every alert the previous run delivered; anything delivered in between is still caught downstream
because the correlator and the warehouse are idempotent on ``alert_id``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DedupeIndex"]


class DedupeIndex:
    def __init__(self, horizon_ms: int, prune_every: int = 64) -> None:
        self.horizon_ms = int(horizon_ms)
        self._seen: dict[str, int] = {}
        self._newest_ms = np.iinfo(np.int64).min
        self._oldest_ms = np.iinfo(np.int64).max  # a lower bound on the event times held
        self._batches = 0
        self._prune_every = prune_every

    def __len__(self) -> int:
        return len(self._seen)

    def seed(self, alert_ids: np.ndarray, event_ms: np.ndarray) -> None:
        """Remember alerts delivered before a restart."""
        self._remember(alert_ids, event_ms)

    def first_sightings(self, alert_ids: np.ndarray, event_ms: np.ndarray) -> np.ndarray:
        """Boolean mask of the alerts to keep, and remember them.

        Keeps the first occurrence of each id in the batch unless the id is already known.
        """
        keep = self.unseen(alert_ids)
        self.remember(alert_ids[keep], event_ms[keep])
        return keep

    def unseen(self, alert_ids: np.ndarray) -> np.ndarray:
        """Mask of first occurrences of ids not known yet; remembers nothing (see remember)."""
        keep = np.zeros(len(alert_ids), dtype=bool)
        if len(alert_ids) == 0:
            return keep
        ids = alert_ids.tolist()
        # id -> index of its first occurrence: built from the end, earlier indices overwrite
        first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
        keep[np.fromiter(first.values(), np.int64, len(first))] = True
        known = np.fromiter(map(self._seen.__contains__, ids), bool, len(ids))
        return keep & ~known

    def remember(self, alert_ids: np.ndarray, event_ms: np.ndarray) -> None:
        """Record ids as delivered (call once their batch has been fully processed)."""
        self._remember(alert_ids, event_ms)

    def _remember(self, alert_ids: np.ndarray, event_ms: np.ndarray) -> None:
        if len(alert_ids) == 0:
            return
        self._seen.update(zip(alert_ids.tolist(), event_ms.tolist(), strict=True))
        self._newest_ms = max(self._newest_ms, int(event_ms.max()))
        self._oldest_ms = min(self._oldest_ms, int(event_ms.min()))
        self._batches += 1
        if self._batches % self._prune_every == 0:
            self.prune()

    def prune(self) -> None:
        """Forget ids whose event time is older than the horizon."""
        cutoff = self._newest_ms - self.horizon_ms
        if self._oldest_ms >= cutoff:  # nothing to forget: skip the scan of every id held
            return
        self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
        self._oldest_ms = min(self._seen.values(), default=np.iinfo(np.int64).max)
