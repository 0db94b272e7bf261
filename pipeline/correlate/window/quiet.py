"""Whether a window is quiet: no scoring cell can count ``min_count`` of its events.

A cell's count at any scale is of events within the largest scoring radius ``r`` of its centre,
so the events counted by one cell lie pairwise within ``2 r``: no cell counts more than one
plus the most others any event has that close (:func:`crowding`). A window where that bound
is below ``min_count`` cannot open a flag, whatever the baseline, and the engine skips scoring
it (:mod:`pipeline.correlate.engine`); where it is ``min_count`` at most, no flag can open
either (the engine's ``_calm``). A sparse city's windows hold a handful of events, so the
pairwise test is cheap; a window of more than ``max_events`` is never called quiet (a dense
city pays one pass over it).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["crowding", "quiet_window"]

#: The bound of a window with too many events to test pairwise: more than any min_count.
CROWDED = 2**62


@numba.njit(cache=True, nogil=True)
def _crowding(x, y, severity, repeat, lo, hi, reach2, max_events):
    events = np.empty(max_events, np.int64)
    n = 0
    for i in range(lo, hi):
        if severity[i] > 0 and repeat[i] != 1:  # an event, or not yet decided: counted
            if n == max_events:
                return CROWDED
            events[n] = i
            n += 1
    most = 0
    for a in range(n):
        near = 1  # itself
        for b in range(n):
            if a != b:
                dx = x[events[a]] - x[events[b]]
                dy = y[events[a]] - y[events[b]]
                if dx * dx + dy * dy <= reach2:
                    near += 1
        most = max(most, near)
    return most


def crowding(
    cols: dict[str, np.ndarray], lo: int, hi: int, reach_m: float, max_events: int = 64
) -> int:
    """An upper bound on the events any one cell can count among rows ``lo:hi`` of ``cols``
    (``x``, ``y`` metres, ``severity``, ``repeat``: -1 undecided, 0 event, 1 repeat; the
    undecided counted): one plus the most others within ``reach_m`` of one event (twice the
    largest scoring radius, plus slack against rounding); 0 for no event, and
    :data:`CROWDED` for more than ``max_events``.

    >>> cols = {"x": np.array([0.0, 900.0, 5000.0]), "y": np.zeros(3),
    ...         "severity": np.ones(3, np.float32), "repeat": np.zeros(3, np.int8)}
    >>> crowding(cols, 0, 3, 1001.0), crowding(cols, 1, 3, 1001.0), crowding(cols, 3, 3, 1001.0)
    (2, 1, 0)
    """
    if not 0 <= lo <= hi <= len(cols["x"]):
        raise ValueError(f"need 0 <= lo <= hi <= rows, got {lo}, {hi}")
    return int(
        _crowding(
            np.asarray(cols["x"], np.float64),
            np.asarray(cols["y"], np.float64),
            cols["severity"],
            cols["repeat"],
            lo,
            hi,
            float(reach_m) ** 2,
            int(max_events),
        )
    )


def quiet_window(
    cols: dict[str, np.ndarray],
    lo: int,
    hi: int,
    reach_m: float,
    min_count: int,
    max_events: int = 64,
) -> bool:
    """Whether rows ``lo:hi`` of ``cols`` (``x``, ``y`` metres, ``severity``, ``repeat``: -1
    undecided, 0 event, 1 repeat) hold no ``min_count`` events pairwise within ``reach_m``
    (twice the largest scoring radius, plus slack against rounding).

    >>> cols = {"x": np.array([0.0, 900.0, 5000.0]), "y": np.zeros(3),
    ...         "severity": np.ones(3, np.float32), "repeat": np.zeros(3, np.int8)}
    >>> quiet_window(cols, 0, 3, 1001.0, 2), quiet_window(cols, 1, 3, 1001.0, 2)
    (False, True)
    """
    return crowding(cols, lo, hi, reach_m, max_events) < min_count
