"""Whether a window is quiet: no scoring cell can count ``min_count`` of its events.

A cell's count at any scale is of events within the largest scoring radius ``r`` of its centre,
so ``min_count`` events counted by one cell lie pairwise within ``2 r``. A window where every
event has fewer than ``min_count - 1`` others that close cannot open a flag, whatever the
baseline, and the engine skips scoring it (:mod:`pipeline.correlate.engine`). A sparse city's
windows hold a handful of events, so the pairwise test is cheap; a window of more than
``max_events`` is never called quiet (a dense city pays one pass over it).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["quiet_window"]


@numba.njit(cache=True, nogil=True)
def _quiet(x, y, severity, repeat, lo, hi, reach2, min_count, max_events):
    events = np.empty(max_events, np.int64)
    n = 0
    for i in range(lo, hi):
        if severity[i] > 0 and repeat[i] != 1:  # an event, or not yet decided: counted
            if n == max_events:
                return False
            events[n] = i
            n += 1
    if n < min_count:
        return True
    if min_count < 2:
        return False
    for a in range(n):
        near = 0
        for b in range(n):
            if a != b:
                dx = x[events[a]] - x[events[b]]
                dy = y[events[a]] - y[events[b]]
                if dx * dx + dy * dy <= reach2:
                    near += 1
        if near >= min_count - 1:
            return False
    return True


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
    if not 0 <= lo <= hi <= len(cols["x"]):
        raise ValueError(f"need 0 <= lo <= hi <= rows, got {lo}, {hi}")
    return bool(
        _quiet(
            np.asarray(cols["x"], np.float64),
            np.asarray(cols["y"], np.float64),
            cols["severity"],
            cols["repeat"],
            lo,
            hi,
            float(reach_m) ** 2,
            int(min_count),
            int(max_events),
        )
    )
