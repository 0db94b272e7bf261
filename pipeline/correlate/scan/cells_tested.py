"""The cells a run of boundaries tests, without scoring them: for the tally of cell tests
(:mod:`pipeline.correlate.scan.tally`) at boundaries where no flag can open.

A cell is tested at a boundary when it holds an event of the window (its own count) and some
scale counts ``min_count`` events within the scale's radius of its centre
(:mod:`pipeline.correlate.scan.scale_tests`). The scales are nested (an event counted in a
window is counted in every longer one, within a radius in every larger one), so that is the
largest scale, the whole window and the largest radius, counting ``min_count``. The distance
is computed as :mod:`pipeline.correlate.scan.scale_counts` computes it (event minus cell
centre, compared with the radius squared), so the cells are those its counts would test, bit
for bit. The engine calls this where a sparse city's windows hold a pair of events near each
other: scoring there costs dozens of small calls and cannot open a flag
(:meth:`pipeline.correlate.engine.Correlator._crowding`), yet the pair's cells are tested.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pipeline.geo.kernels import pack_cell

from ..exceptions import CorrelationError

__all__ = ["cells_tested"]


# --- kernel ----------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _events(severity, repeat, lo, hi):
    """Rows among ``lo:hi`` that are counted events (severity > 0, repeat 0); None when one
    is undecided (repeat -1: the counts would be wrong)."""
    rows = np.empty(hi - lo, np.int64)
    n = 0
    for i in range(lo, hi):
        if severity[i] > 0:
            if repeat[i] < 0:
                return None
            if repeat[i] == 0:
                rows[n] = i
                n += 1
    return rows[:n]


@numba.njit(cache=True, nogil=True)
def _tested(cols, lo, hi, boundaries, scale):
    """Ids of the cells tested at each of ``boundaries`` (increasing, none before an event
    of ``lo:hi``), a cell once per boundary, boundary after boundary; the window at ``b``
    holds the events with event time in ``(b - window_ms, b]``. ``scale``: ``(window_ms,
    r2, cell_m, min_count)``, ``r2`` the largest radius squared. Returns ``(ids, ok)``;
    not ``ok`` when an event's burst status is undecided."""
    x, y, severity, repeat, event_ms = cols
    window_ms, r2, cell_m, min_count = scale
    rows = _events(severity, repeat, lo, hi)
    if rows is None:
        return np.empty(0, np.int64), False
    n = rows.shape[0]
    ix = np.empty(n, np.int64)
    iy = np.empty(n, np.int64)
    for a in range(n):
        ix[a] = np.int64(math.floor(x[rows[a]] / cell_m))  # as Lattice.index
        iy[a] = np.int64(math.floor(y[rows[a]] / cell_m))
    out = np.empty(n * boundaries.shape[0], np.int64)
    m = 0
    first = 0  # the first event still in the window (boundaries increase)
    for b in boundaries:
        while first < n and event_ms[rows[first]] <= b - window_ms:
            first += 1
        for a in range(first, n):
            seen = False  # a cell is tested once per boundary, however many events it holds
            for c in range(first, a):
                if ix[c] == ix[a] and iy[c] == iy[a]:
                    seen = True
                    break
            if seen:
                continue
            cx = (ix[a] + 0.5) * cell_m  # as scale_counts: event minus cell centre
            cy = (iy[a] + 0.5) * cell_m
            count = 0
            for e in range(first, n):
                dx = x[rows[e]] - cx
                dy = y[rows[e]] - cy
                if dx * dx + dy * dy <= r2:
                    count += 1
            if count >= min_count:
                out[m] = pack_cell(ix[a], iy[a])
                m += 1
    return out[:m], True


# --- Python layer ------------------------------------------------------------------------------


def cells_tested(
    cols: dict[str, np.ndarray],
    rows: tuple[int, int],
    boundaries: np.ndarray,
    window_ms: int,
    radius_m: float,
    cell_m: float,
    min_count: int,
) -> np.ndarray:
    """Ids of the cells tested at each of ``boundaries`` (int64, increasing, none before an
    event of the rows), concatenated boundary after boundary (a cell once per boundary it is
    tested at). ``cols``: ``x``, ``y`` (metres), ``severity``, ``repeat`` (-1 undecided, 0
    event, 1 repeat) and ``event_ms``, in canonical order; ``rows``: ``(lo, hi)``, every row
    the windows at ``boundaries`` hold (more is fine: rows outside a window do not count);
    ``radius_m``: the largest scoring radius; ``cell_m``: the lattice's cell side.

    >>> cols = {"x": np.array([10.0, 300.0, 5000.0]), "y": np.zeros(3),
    ...         "severity": np.ones(3, np.float32), "repeat": np.zeros(3, np.int8),
    ...         "event_ms": np.array([0, 60_000, 60_000])}
    >>> ids = cells_tested(cols, (0, 3), np.array([60_000, 1_800_000]), 1_800_000, 500.0,
    ...                    250.0, 2)
    >>> len(ids)  # at the first boundary the two cells of the pair; at the second none
    2
    """
    lo, hi = rows
    if not 0 <= lo <= hi <= len(cols["x"]):
        raise ValueError(f"need 0 <= lo <= hi <= rows, got {lo}, {hi}")
    boundaries = np.ascontiguousarray(boundaries, np.int64)
    if hi > lo and len(boundaries) and cols["event_ms"][hi - 1] > boundaries[0]:
        raise ValueError("every row must lie at or before the first boundary")
    ids, ok = _tested(
        (
            np.asarray(cols["x"], np.float64),
            np.asarray(cols["y"], np.float64),
            cols["severity"],
            cols["repeat"],
            np.asarray(cols["event_ms"], np.int64),
        ),
        lo,
        hi,
        boundaries,
        # r * r as scale_counts squares its radii
        (
            np.int64(window_ms),
            float(radius_m) * float(radius_m),
            float(cell_m),
            np.int64(min_count),
        ),
    )
    if not ok:  # a bug, not bad input: the tally would be silently wrong
        raise CorrelationError(
            "burst status of alerts to count is undecided; this is a bug in the engine: "
            "report it, and replay from the committed offsets"
        )
    return ids
