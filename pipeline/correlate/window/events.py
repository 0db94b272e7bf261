"""The events of a window at a slide boundary, from the buffer's rows in one kernel call: the
burst status of every alert not decided yet, and the rows that count (severity > 0, not a
repeat).

The statuses are those of :func:`pipeline.correlate.window.bursts.burst_statuses` (the reference):
an alert is a repeat when an earlier alert in canonical order of the same source and category
lies within the burst radius (``dx² + dy² <= r²``) and gap (``t - t_earlier <= gap``). Only
alerts of the same kind can make one a repeat, so each alert is chained to the previous alert
of its kind in its square (squares a little wider than the radius), and an undecided alert
walks the chains of its square and the eight around it back over the gap: a few steps, where
the pair search went through every alert nearby of any kind. The rows are in canonical order
(event time, then key), so the chains are too.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.geo.kernels import CELL_OFFSET, lower_bound, pack_cell, probe

from ..lattice import Lattice

__all__ = ["window_events", "cell_counts"]

_SQUARE_SPAN = 1 << 23
_KINDS = (len(CATEGORIES), len(SOURCES) * len(CATEGORIES))  # categories, (source, category)s
_FREE = -1  # a free slot of the (square, kind) table (keys are non-negative)


# --- kernel ----------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _key(sx, sy, kind, n_kinds):
    # Squares within +-2**23 of the origin (thousands of km): the key is non-negative.
    return (((sx + _SQUARE_SPAN) << 24) | (sy + _SQUARE_SPAN)) * n_kinds + kind


@numba.njit(cache=True, nogil=True)
def _window_events(t, x, y, source, category, severity, repeat, rows, kinds, r2, gap, cell):
    """Decide the undecided counted rows of ``[mid, hi)`` (``repeat`` -1 -> 0 or 1; rows of
    ``[lo, mid)`` are context only; none before ``scan`` is undecided), then return the
    counted rows of ``[since, hi)`` that are not repeats. The columns are flat arguments and
    the ints Python ints: Numba's dispatch of a tuple of arrays and of NumPy scalars costs
    microseconds a call, and a quiet city calls this at every boundary an alert enters."""
    lo, mid, hi, scan, since = rows
    n_cat, n_kinds = kinds
    first = -1
    for i in range(max(mid, scan), hi):
        if severity[i] > 0 and repeat[i] < 0:
            first = i
            break
    if first >= 0:
        s0 = lower_bound(t, lo, first, t[first] - gap)
        reach = 0.0
        for i in range(s0, hi):
            reach = max(reach, abs(x[i]), abs(y[i]))
        cell = max(cell, reach / (_SQUARE_SPAN // 2))  # square indices stay within the key
        # Chains by kind and square (``cell`` wide, at least the radius): an alert's earlier
        # alerts within the radius lie in its own square or the eight around it.
        size = 16
        while size < 2 * (hi - s0):
            size *= 2
        keys = np.full(size, -1, np.int64)  # open addressing: (square, kind) -> latest row
        latest = np.empty(size, np.int64)
        prev = np.empty(hi - s0, np.int64)  # per row: the row before it in its chain
        for i in range(s0, hi):
            if not severity[i] > 0:
                continue
            kind = source[i] * n_cat + category[i]
            sx = np.int64(math.floor(x[i] / cell))
            sy = np.int64(math.floor(y[i] / cell))
            if i >= first and repeat[i] < 0:
                found = 0
                for dx_sq in range(-1, 2):
                    for dy_sq in range(-1, 2):
                        slot = probe(keys, _key(sx + dx_sq, sy + dy_sq, kind, n_kinds), _FREE)
                        j = latest[slot] if keys[slot] >= 0 else -1
                        while j >= 0 and t[i] - t[j] <= gap:
                            dx = x[j] - x[i]
                            dy = y[j] - y[i]
                            if dx * dx + dy * dy <= r2:
                                found = 1
                                break
                            j = prev[j - s0]
                        if found:
                            break
                    if found:
                        break
                repeat[i] = found
            slot = probe(keys, _key(sx, sy, kind, n_kinds), _FREE)
            prev[i - s0] = latest[slot] if keys[slot] >= 0 else -1
            keys[slot] = _key(sx, sy, kind, n_kinds)
            latest[slot] = i
    n = 0
    for i in range(since, hi):
        if severity[i] > 0 and repeat[i] == 0:
            n += 1
    out = np.empty(n, np.int64)
    n = 0
    for i in range(since, hi):
        if severity[i] > 0 and repeat[i] == 0:
            out[n] = i
            n += 1
    return out


@numba.njit(cache=True, nogil=True)
def _cell_counts(x, y, rows, cell_m, reach):
    """Sorted unique lattice cells of rows ``rows`` and how many rows each holds; no cells
    (and ``ok`` False) when an index would not fit a cell id."""
    n = rows.shape[0]
    cells = np.empty(n, np.int64)
    for k in range(n):
        ix = np.int64(math.floor(x[rows[k]] / cell_m))  # as Lattice.index and cell_id
        iy = np.int64(math.floor(y[rows[k]] / cell_m))
        if abs(ix) >= reach or abs(iy) >= reach:
            return cells[:0], np.zeros(0, np.int64), False
        cells[k] = pack_cell(ix, iy)
    cells.sort()
    m = 0
    counts = np.zeros(n, np.int64)
    for k in range(n):
        if m == 0 or cells[k] != cells[m - 1]:
            cells[m] = cells[k]
            m += 1
        counts[m - 1] += 1
    return cells[:m].copy(), counts[:m].copy(), True


# --- Python layer ------------------------------------------------------------------------------


def cell_counts(
    cols: dict[str, np.ndarray], rows: np.ndarray, lattice: Lattice
) -> tuple[np.ndarray, np.ndarray]:
    """The lattice cells of rows ``rows`` of ``cols`` (``x``, ``y``), sorted and unique, and
    how many of the rows each holds: ``np.unique(lattice.cell_id(*lattice.index(x, y)),
    return_counts=True)`` in one kernel call."""
    cells, counts, ok = _cell_counts(
        cols["x"], cols["y"], np.asarray(rows, np.int64), float(lattice.cell_m), CELL_OFFSET
    )
    if not ok:
        raise ValueError("cell index out of range: are the coordinates in metres?")
    return cells, counts


def window_events(
    cols: dict[str, np.ndarray],
    bounds: tuple[int, int, int],
    radius_m: float,
    gap_ms: int,
    scan_from: int = 0,
    since: int | None = None,
) -> np.ndarray:
    """Rows (ascending) of the window's events: the counted rows of ``[mid, hi)`` that repeat
    no earlier alert, of those from row ``since`` on (default ``mid``: all of them). Decides
    first, in ``cols["repeat"]`` (in place), every counted row of ``[mid, hi)`` still at -1;
    rows of ``[lo, mid)`` (the gap before the window) are context.

    ``cols``: the buffer's ``event_ms``, ``x``, ``y``, ``source``, ``category``, ``severity``
    and ``repeat`` columns, rows in canonical order; ``bounds``: ``(lo, mid, hi)``, ``lo``
    the first row within ``gap_ms`` of the window (rows before it cannot make a window row a
    repeat); ``scan_from``: no row before it is undecided (where the last call decided up to:
    the search for undecided rows starts there, not at the window's start).
    """
    lo, mid, hi = bounds
    since = mid if since is None else since
    if not 0 <= lo <= mid <= hi <= len(cols["event_ms"]) or not mid <= since <= hi:
        raise ValueError(f"need 0 <= lo <= mid <= since <= hi <= rows, got {lo}, {mid}, "
                         f"{since}, {hi}")  # fmt: skip
    if gap_ms < 0 or not radius_m >= 0:
        raise ValueError(f"radius_m and gap_ms must be >= 0, got {radius_m!r}, {gap_ms!r}")
    return _window_events(
        cols["event_ms"], cols["x"], cols["y"], cols["source"], cols["category"],
        cols["severity"], cols["repeat"],
        (int(lo), int(mid), int(hi), int(scan_from), int(since)),
        _KINDS,
        float(radius_m) * float(radius_m),
        int(gap_ms),
        max(float(radius_m), 1.0) * (1.0 + 2.0**-20),  # squares a little wider than r
    )  # fmt: skip
