"""How crowded a window is: the most events a scored cell can count at its largest scale.

Scoring tests the cells holding an event of the window (and open flags' cells), each at its
scales; the largest scale (the whole window, the largest radius ``r``) counts the most, the
scales being nested. :func:`crowding` is that count's maximum over the cells holding an event,
counted as :mod:`pipeline.correlate.scan.scale_counts` counts (event minus cell centre, against
``r * r``), with alerts whose burst status is still undecided counted as events: an upper
bound, exact once every status is decided. Below ``min_count`` no cell is tested (a *quiet*
window); at ``min_count`` at most, no flag can open whatever the baseline (a *calm* one, see
the engine's ``_crowding``), and the engine skips scoring it (:mod:`pipeline.correlate.engine`).
Under the recurrence bar a flag opens only at a cell an event entered in the last slide, so the
engine also asks for the maximum over those cells alone (``from_row``).
A sparse city's windows hold a handful of events, so the pairwise pass is cheap; a window of
more than ``max_events`` is called crowded at once (a dense city pays one pass over it).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["CROWDED", "crowding"]

#: The bound of a window with too many events to count pairwise: more than any min_count.
CROWDED = 2**62


@numba.njit(cache=True, nogil=True)
def _crowding(x, y, severity, repeat, lo, hi, r2, cell_m, max_events, from_row):
    # Flat arguments: Numba's dispatch of a tuple of arrays costs about a microsecond more.
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
        if events[a] < from_row:  # not a cell of interest: counted, not counting
            continue
        cx = (np.int64(math.floor(x[events[a]] / cell_m)) + 0.5) * cell_m  # its cell's centre
        cy = (np.int64(math.floor(y[events[a]] / cell_m)) + 0.5) * cell_m
        near = 0
        for b in range(n):
            dx = x[events[b]] - cx  # as scale_counts: event minus cell centre
            dy = y[events[b]] - cy
            if dx * dx + dy * dy <= r2:
                near += 1
        most = max(most, near)
    return most


def crowding(
    cols: dict[str, np.ndarray],
    lo: int,
    hi: int,
    radius_m: float,
    cell_m: float,
    max_events: int = 64,
    from_row: int | None = None,
) -> int:
    """The most events among rows ``lo:hi`` of ``cols`` (``x``, ``y`` metres, ``severity``,
    ``repeat``: -1 undecided, counted; 0 event; 1 repeat) within ``radius_m`` (the largest
    scoring radius) of the centre of a lattice cell (side ``cell_m``) holding one; 0 for no
    event, :data:`CROWDED` for more than ``max_events``. ``from_row``: only the cells holding
    an event of rows ``from_row:hi`` count (all the events of ``lo:hi`` are counted in them);
    the engine passes the first row of the last slide, the cells a flag may open at under
    the recurrence bar (:mod:`pipeline.correlate.scan.new_tests`).

    >>> cols = {"x": np.array([10.0, 300.0, 5000.0]), "y": np.zeros(3),
    ...         "severity": np.ones(3, np.float32), "repeat": np.zeros(3, np.int8)}
    >>> crowding(cols, 0, 3, 500.0, 250.0), crowding(cols, 1, 3, 500.0, 250.0)
    (2, 1)
    >>> crowding(cols, 0, 3, 500.0, 250.0, from_row=2)  # the cell at 5 km holds one
    1
    """
    from_row = lo if from_row is None else from_row
    if not 0 <= lo <= from_row <= hi <= len(cols["x"]):
        raise ValueError(f"need 0 <= lo <= from_row <= hi <= rows, got {lo}, {from_row}, {hi}")
    x, y = cols["x"], cols["y"]
    if getattr(x, "dtype", None) != np.float64 or getattr(y, "dtype", None) != np.float64:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    r2 = float(radius_m) * float(radius_m)  # r * r, as scale_counts squares its radii
    return int(
        _crowding(
            x,
            y,
            cols["severity"],
            cols["repeat"],
            int(lo),
            int(hi),
            r2,
            float(cell_m),
            int(max_events),
            int(from_row),
        )
    )
