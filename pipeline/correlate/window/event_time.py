"""Event time: watermark, lateness, duplicates, and the slide boundaries that are due.

The rules that make results independent of how the stream is cut into batches:

* Lateness is judged per alert in arrival order: alert ``k`` is late when its event time is
  below ``max(event times of alerts 0..k-1) - lateness``. The running maximum is vectorised, so
  one batch of ``n`` or ``n`` batches of one classify every alert the same way.
* A boundary ``b`` closes only once the watermark is strictly past it. Every alert that can
  still arrive (and not be late) then has event time ``>= watermark > b``, so the alerts with
  event time ``<= b`` are final and results computed at ``b`` can never change.
"""

from __future__ import annotations

import numpy as np

from .key_set import KeySet

__all__ = ["EventWindow"]

_NO_TIME = np.iinfo(np.int64).min


def _ceil_to(t: int, step: int) -> int:
    return -((-t) // step) * step


class EventWindow:
    """Watermark and boundary bookkeeping of one correlator (no alert data lives here)."""

    def __init__(self, window_ms: int, slide_ms: int, lateness_ms: int) -> None:
        self.window_ms = window_ms
        self.slide_ms = slide_ms
        self.lateness_ms = lateness_ms
        self.max_event_ms = _NO_TIME
        #: The first boundary not yet closed; ``None`` until the first one is known.
        self.next_boundary: int | None = None

    @property
    def watermark(self) -> int:
        """Max event time seen minus the allowed lateness (int64 min before any alert)."""
        if self.max_event_ms == _NO_TIME:
            return _NO_TIME
        return self.max_event_ms - self.lateness_ms

    def admit(
        self, event_ms: np.ndarray, keys: np.ndarray, retained: KeySet | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Classify a batch in arrival order and advance the watermark.

        Returns boolean masks ``(late, duplicate)`` over the batch. A duplicate's key is
        already retained or appeared earlier in the batch (first one wins); it is checked
        first, so a redelivery after a restart is ignored, not dead-lettered as late. Only
        redeliveries of alerts about to leave the window may be classified either way
        (neither changes results). ``retained``: the retained keys, as a :class:`KeySet` (what
        the engine passes: time proportional to the batch) or an array.
        """
        if isinstance(retained, KeySet):
            duplicate = retained.contains(keys)
        else:
            duplicate = np.isin(keys, retained)
        _, first = np.unique(keys, return_index=True)
        repeated = np.ones(len(keys), bool)
        repeated[first] = False
        duplicate |= repeated
        seen_before = np.maximum.accumulate(np.concatenate([[self.max_event_ms], event_ms]))
        prior = seen_before[:-1]
        # Before the first alert there is no watermark (and subtracting from int64 min wraps).
        late = (prior != _NO_TIME) & (event_ms < prior - self.lateness_ms) & ~duplicate
        if len(event_ms):
            self.max_event_ms = int(seen_before[-1])
        return late, duplicate

    def advance(self, event_ms: int) -> None:
        """Move the watermark as if an alert at ``event_ms`` had arrived (never backwards)."""
        self.max_event_ms = max(self.max_event_ms, int(event_ms))

    def start(self, earliest_ms: int) -> None:
        """Set the first boundary from the earliest retained alert, once it is final.

        Called with the minimum retained event time; the boundary is only fixed when it is
        already closable, because only then are all alerts before it known.
        """
        if self.next_boundary is None:
            b = _ceil_to(earliest_ms, self.slide_ms)
            if b < self.watermark:
                self.next_boundary = b

    def pop_due(self) -> int | None:
        """The next boundary the watermark has passed (and mark it closed), else ``None``."""
        b = self.next_boundary
        if b is None or b >= self.watermark:
            return None
        self.next_boundary = b + self.slide_ms
        return b

    def skip_to(self, next_event_ms: int | None) -> None:
        """Jump over boundaries with nothing in their window (idle stream, backfill gaps).

        ``next_event_ms`` is the earliest retained event time after the last closed boundary,
        or ``None``. Boundaries before it that are already closable have empty windows.
        """
        limit = _ceil_to(self.watermark, self.slide_ms)
        target = (
            limit if next_event_ms is None else min(_ceil_to(next_event_ms, self.slide_ms), limit)
        )
        if self.next_boundary is not None and target > self.next_boundary:
            self.next_boundary = target

    def horizon_ms(self) -> int | None:
        """Event times ``<=`` this are outside every window still to be closed."""
        if self.next_boundary is None:
            return None
        return self.next_boundary - self.window_ms

    def state(self) -> dict[str, int | None]:
        return {"max_event_ms": self.max_event_ms, "next_boundary": self.next_boundary}

    def load_state(self, state: dict[str, int | None]) -> None:
        self.max_event_ms = int(state["max_event_ms"])
        nb = state["next_boundary"]
        self.next_boundary = None if nb is None else int(nb)
