"""Per-cell scale counts kept up to date from one slide boundary to the next.

Scoring needs, for every tested cell and every scale ``(w, r)`` of ``params.windows_s`` x
``params.radii_m``, the events within ``r`` metres of the cell centre in the last ``w``
seconds, by source, and their severity sum; plus each cell's own count over the whole window
(which cells are tested, and Getis-Ord Gi*). Recomputing that from every row of the window at
every boundary joins each event about ``window_s / slide_s`` (30) times. Here each event is
added once when it enters the window and removed once per window it leaves: a boundary costs
the events that entered or left, not the window.

What an event contributes is exactly what the batch join of
:func:`pipeline.correlate.scan.scoring.score_cells` counts: every cell whose centre lies within
``r`` of it (``dx*dx + dy*dy <= r*r``, the test of
:func:`pipeline.geo.spatial_hash.neighbour_sums`), in the shortest window holding it and every
longer one, the longest window standing for the whole ``window_s`` (as the batch binning does).
Counts are integers; severities are multiples of 2**-20 (the buffer quantises them, see
:func:`pipeline.correlate.window.buffer.quantise_severity`), so float64 sums of them are exact and
adding and removing events in any order gives the batch sums bit for bit.

State: an open-addressing map (linear probing, power-of-two table) from cell id to a slot;
per slot the counts by scale and source, the severity sums by scale, and the own count. A slot
whose counts all fall to zero stays mapped (it is often refilled soon) until enough of them
accumulate, then live slots are compacted and the map rebuilt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from pipeline.alerts import SOURCES
from pipeline.geo.kernels import CELL_OFFSET, pack_cell, probe

from ..exceptions import CorrelationError
from ..lattice import Lattice
from ..params import CorrelationParams

__all__ = ["ScaleCounts", "RowSource", "Rows"]


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows ``lo:hi`` of the columns ``x, y, source, severity, event_ms, repeat`` (canonical
    order, e.g. the buffer's own): the events among them are the rows with severity > 0 and
    repeat 0 (a repeat of -1, undecided, is refused)."""

    cols: dict[str, np.ndarray]
    lo: int
    hi: int

    @classmethod
    def of(cls, events: dict[str, np.ndarray]) -> Rows:
        """Rows that are all events already (columns ``x, y, source, severity, event_ms``)."""
        n = len(events["x"])
        return cls({**events, "repeat": np.zeros(n, np.int8)}, 0, n)


#: ``rows(lo_ms, hi_ms)``: the rows holding the events with event time in ``(lo_ms, hi_ms]``.
RowSource = Callable[[int, int], Rows]

_EMPTY = -1  # a free table entry (cell ids are non-negative)
_BAD_UNDECIDED, _BAD_COORDINATES = 1, 2  # why rows cannot be applied
_META_SLOTS, _META_DEAD = 0, 1  # slots in use (live or dead), slots whose counts are all 0


# --- kernels ---------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _find(table, table_slot, cell):
    """Slot of ``cell``, -1 when it has none."""
    s = probe(table, cell, _EMPTY)
    return table_slot[s] if table[s] == cell else -1


@numba.njit(cache=True, nogil=True)
def _slot(table, table_slot, cell_of, meta, cell):
    """Slot of ``cell``, a new one when it has none (the caller made room)."""
    s = probe(table, cell, _EMPTY)
    if table[s] == cell:
        return table_slot[s]
    new = meta[_META_SLOTS]
    meta[_META_SLOTS] += 1
    meta[_META_DEAD] += 1  # no counts yet; the caller adds some at once
    table[s] = cell
    table_slot[s] = new
    cell_of[new] = cell
    return new


@numba.njit(cache=True, nogil=True)
def _touch(total, meta, slot, delta):
    # Keeps the number of slots holding nothing, so compaction knows when it pays.
    before = total[slot]
    total[slot] = before + delta
    if before == 0 and delta != 0:
        meta[_META_DEAD] -= 1
    elif before + delta == 0 and delta != 0:
        meta[_META_DEAD] += 1


@numba.njit(cache=True, nogil=True)
def _check(cols, lo, hi, reach_m):
    """0 when rows ``lo:hi`` can be applied; else why not (see the ``_BAD_*`` codes)."""
    x, y, _, severity, _, repeat = cols
    for i in range(lo, hi):
        if not severity[i] > 0:
            continue
        if repeat[i] < 0:
            return _BAD_UNDECIDED
        if repeat[i] == 0 and (abs(x[i]) >= reach_m or abs(y[i]) >= reach_m):
            return _BAD_COORDINATES
    return 0


@numba.njit(cache=True, nogil=True)
def _apply(arrays, cols, start, hi, window, boundary_ms, edges, sign, offsets, r2, cell_m):
    """Add (``sign`` 1) or remove (-1) the events among rows ``start:hi`` of ``cols`` (the
    rows with severity > 0 that repeat nothing) in windows ``window`` (-1: every window
    holding the event at ``boundary_ms``, by its age against ``edges``).

    An event counts for every cell whose centre lies within ``r`` of it (``r2``: the radii
    squared, increasing), and for its own cell's own count when the range ends with the last
    window (the own count covers the whole window, as the last window does).
    Returns the first row not applied: it stops where an event could need more slots than
    are left, so the caller grows the arrays and goes on from there.
    """
    table, table_slot, cell_of, counts, sev, own, total, meta = arrays
    x, y, src, severity, event_ms, repeat = cols
    n_rad = r2.shape[0]
    n_src = counts.shape[1] // sev.shape[1]
    n_win = sev.shape[1] // n_rad
    room = cell_of.shape[0] - offsets.shape[0] - 1
    for i in range(start, hi):
        if not severity[i] > 0 or repeat[i] != 0:
            continue
        if meta[_META_SLOTS] > room:
            return i
        if window >= 0:
            klo, khi = window, window + 1
        else:  # the shortest window holding it, and every longer one
            age = boundary_ms - event_ms[i]
            klo = 0
            while klo < edges.shape[0] and edges[klo] <= age:
                klo += 1
            klo, khi = min(klo, n_win - 1), n_win
        weight = sign * np.float64(severity[i])
        ix = np.int64(math.floor(x[i] / cell_m))  # as Lattice.index
        iy = np.int64(math.floor(y[i] / cell_m))
        for c in range(offsets.shape[0]):
            jx = ix + offsets[c, 0]
            jy = iy + offsets[c, 1]
            dx = x[i] - (jx + 0.5) * cell_m  # as neighbour_sums: point minus cell centre
            dy = y[i] - (jy + 0.5) * cell_m
            d2 = dx * dx + dy * dy
            if d2 > r2[n_rad - 1]:
                continue
            cell = pack_cell(jx, jy)
            slot = _slot(table, table_slot, cell_of, meta, cell)
            j0 = 0  # radii increase: the cell is within every radius from j0 on
            while d2 > r2[j0]:
                j0 += 1
            for j in range(j0, n_rad):
                for k in range(klo, khi):
                    counts[slot, (k * n_rad + j) * n_src + src[i]] += sign
                    sev[slot, k * n_rad + j] += weight
            # one touch for all its radii: the total crosses zero at most once (all changes
            # of a pass have one sign, and a total never goes below zero)
            _touch(total, meta, slot, sign * (khi - klo) * (n_rad - j0))
        if khi == n_win:
            cell = pack_cell(ix, iy)
            slot = _slot(table, table_slot, cell_of, meta, cell)
            own[slot] += sign
            _touch(total, meta, slot, sign)
    return hi


@numba.njit(cache=True, nogil=True)
def _gather(arrays, n_slots, extra):
    """The cells holding an own count plus ``extra`` (sorted, unique) and copies of their
    rows; zeros for an extra cell with no slot. ``arrays``: the state, as :func:`_apply`."""
    table, table_slot, cell_of, counts, sev, own, _, _ = arrays
    n_own = 0
    for s in range(n_slots):
        if own[s] > 0:
            n_own += 1
    cells = np.empty(n_own + extra.shape[0], np.int64)
    k = 0
    for s in range(n_slots):
        if own[s] > 0:
            cells[k] = cell_of[s]
            k += 1
    cells[n_own:] = extra
    cells.sort()
    n = 0
    for i in range(cells.shape[0]):  # unique, in place
        if n == 0 or cells[i] != cells[n - 1]:
            cells[n] = cells[i]
            n += 1
    cells = cells[:n].copy()
    out_counts = np.zeros((n, counts.shape[1]), np.int64)
    out_sev = np.zeros((n, sev.shape[1]))
    out_own = np.zeros(n, np.int64)
    for i in range(n):
        s = _find(table, table_slot, cells[i])
        if s >= 0:
            out_counts[i] = counts[s]
            out_sev[i] = sev[s]
            out_own[i] = own[s]
    return cells, out_counts, out_sev, out_own


@numba.njit(cache=True, nogil=True)
def _rehash(table, table_slot, cell_of, n):
    for slot in range(n):
        s = probe(table, cell_of[slot], _EMPTY)  # not there yet: the free slot
        table[s] = cell_of[slot]
        table_slot[s] = slot


# --- Python layer ------------------------------------------------------------------------------


def _candidate_offsets(cell_m: float, radius_m: float) -> np.ndarray:
    """Cell offsets ``(dx, dy)`` whose centre can lie within ``radius_m`` of a point in cell
    ``(0, 0)``: a superset (1 m of slack against rounding), the kernel tests each exactly."""
    k = int(math.ceil(radius_m / cell_m)) + 1
    d = np.arange(-k, k + 1)
    dx, dy = np.meshgrid(d, d, indexing="ij")
    gap_x = np.maximum((np.abs(dx) - 0.5) * cell_m - 1.0, 0.0)
    gap_y = np.maximum((np.abs(dy) - 0.5) * cell_m - 1.0, 0.0)
    keep = gap_x**2 + gap_y**2 <= radius_m**2
    return np.stack([dx[keep], dy[keep]], axis=1).astype(np.int64)


class ScaleCounts:
    """Counts by scale and source, severity sums by scale, and own counts, of every cell near a
    counted event of the window, as of the last boundary passed to :meth:`advance`.

    The engine calls, at each boundary ``b`` (after burst statuses up to ``b`` are decided):
    ``advance(b, rows)``, then scores from :meth:`gather`, then ``retire(b + slide, rows)``,
    which already drops what leaves before the next boundary (while those rows are still in
    the buffer). :meth:`clear` forgets everything; the next :meth:`advance` then rebuilds the
    counts from the window's rows (after a restore), which gives the same state exactly.
    """

    def __init__(self, params: CorrelationParams, lattice: Lattice) -> None:
        self.params = params
        self.lattice = lattice
        self._n_src = len(SOURCES)
        self._n_win, self._n_rad = len(params.windows_s), len(params.radii_m)
        # Window k holds events with event time in (b - span[k], b]; the longest stands for the
        # whole window_s, as in the batch binning (rows older than it never occur there).
        self._span = np.asarray(params.windows_s, np.int64) * 1000
        self._span[-1] = params.window_ms
        self._edges = np.asarray(params.windows_s, np.int64) * 1000
        self._r2 = np.array([r * r for r in params.radii_m], np.float64)
        self._offsets = _candidate_offsets(lattice.cell_m, max(params.radii_m))
        # Coordinates whose cell or a neighbour's would not fit a cell id (Lattice.cell_id).
        self._reach_m = (CELL_OFFSET - 1 - int(np.abs(self._offsets).max())) * lattice.cell_m
        self.clear()

    def clear(self) -> None:
        self._alloc(1024)
        self._hi: int | None = None  # events with event time <= this were added
        self._lo = np.zeros(self._n_win, np.int64)  # window k: events <= _lo[k] were removed

    @property
    def kept(self) -> bool:
        """Whether counts are held (else the next :meth:`advance` rebuilds them)."""
        return self._hi is not None

    def __len__(self) -> int:
        """Cells holding any count (own or within a radius)."""
        return int(self._meta[_META_SLOTS] - self._meta[_META_DEAD])

    # --- updates ------------------------------------------------------------------------------

    def advance(self, boundary_ms: int, rows: RowSource) -> None:
        """Bring the counts to ``boundary_ms``: events that left each window out, the events
        since the last boundary in (all of the window's after :meth:`clear`)."""
        self.retire(boundary_ms, rows)
        lo = boundary_ms - self.params.window_ms
        if self._hi is not None:
            lo = max(lo, self._hi)
        if boundary_ms > lo:
            self._apply(rows(lo, boundary_ms), -1, boundary_ms, 1)
        self._hi = boundary_ms
        self._lo = np.maximum(self._lo, boundary_ms - self._span)

    def retire(self, boundary_ms: int, rows: RowSource) -> None:
        """Remove the events that are out of each window at ``boundary_ms``."""
        if self._hi is None:
            return
        # Window k loses the events in (lo[k], hi[k]]. The ranges of different windows lie far
        # apart: one kernel call for each.
        lo = self._lo
        hi = np.minimum(boundary_ms - self._span, self._hi)
        for k in np.flatnonzero(hi > lo).tolist():
            self._apply(rows(int(lo[k]), int(hi[k])), k, boundary_ms, -1)
        self._lo = np.maximum(lo, boundary_ms - self._span)
        if self._meta[_META_DEAD] > max(1024, self._meta[_META_SLOTS] // 2):
            self._compact()

    # --- reads --------------------------------------------------------------------------------

    def gather(
        self, extra_cells: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The cells to score (own count > 0, plus ``extra_cells``), sorted, with their counts:
        ``(cell_id, by_src, sev, own)`` shaped ``(cells,)``, ``(cells, scales, sources)``,
        ``(cells, scales)``, ``(cells,)``, scales in ``params.scales`` order."""
        cell_id, by_src, sev, own = _gather(
            self._arrays(),
            int(self._meta[_META_SLOTS]),
            np.unique(np.asarray(extra_cells, np.int64)),
        )
        n_scales = self._n_win * self._n_rad
        return cell_id, by_src.reshape(len(cell_id), n_scales, self._n_src), sev, own

    def table(self) -> dict[str, np.ndarray]:
        """Every cell holding a count, sorted, with all its counts (for comparisons)."""
        n = int(self._meta[_META_SLOTS])
        live = np.flatnonzero(self._total[:n] > 0)
        live = live[np.argsort(self._cell_of[live])]
        return {
            "cell_id": self._cell_of[live],
            "counts": self._counts[live],
            "sev": self._sev[live],
            "own": self._own[live],
        }

    # --- storage ------------------------------------------------------------------------------

    def _apply(self, rows: Rows, window: int, boundary_ms: int, sign: int) -> None:
        """Add (``sign`` 1) or remove (-1) the events of ``rows`` in window ``window`` (-1:
        every window that holds each at ``boundary_ms``)."""
        c = rows.cols
        cols = (
            np.asarray(c["x"], np.float64),
            np.asarray(c["y"], np.float64),
            c["source"],
            c["severity"],
            np.asarray(c["event_ms"], np.int64),
            c["repeat"],
        )
        bad = _check(cols, rows.lo, rows.hi, float(self._reach_m))
        if bad == _BAD_UNDECIDED:  # a bug, not bad input: the counts would be silently wrong
            raise CorrelationError(
                "burst status of alerts to count is undecided; this is a bug in the engine: "
                "report it, and replay from the committed offsets"
            )
        if bad == _BAD_COORDINATES:
            raise ValueError("cell index out of range: are the coordinates in metres?")
        done = rows.lo
        while done < rows.hi:
            done = _apply(
                self._arrays(), cols, done, rows.hi, window, np.int64(boundary_ms),
                self._edges, np.int64(sign), self._offsets, self._r2,
                float(self.lattice.cell_m),
            )  # fmt: skip
            if done < rows.hi:
                self._grow()

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self._table,
            self._table_slot,
            self._cell_of,
            self._counts,
            self._sev,
            self._own,
            self._total,
            self._meta,
        )

    def _alloc(self, capacity: int) -> None:
        capacity = max(capacity, 4 * len(self._offsets))
        n_scales = self._n_win * self._n_rad
        self._cell_of = np.zeros(capacity, np.int64)
        self._counts = np.zeros((capacity, n_scales * self._n_src), np.int64)
        self._sev = np.zeros((capacity, n_scales), np.float64)
        self._own = np.zeros(capacity, np.int64)
        self._total = np.zeros(capacity, np.int64)
        self._meta = np.zeros(2, np.int64)
        self._table = np.full(1 << (2 * capacity - 1).bit_length(), _EMPTY, np.int64)
        self._table_slot = np.zeros(len(self._table), np.int64)

    def _resize(self, keep: np.ndarray, capacity: int) -> None:
        """Keep slots ``keep`` (in order) in fresh arrays of ``capacity`` slots."""
        old = {
            "cell_of": self._cell_of[keep],
            "counts": self._counts[keep],
            "sev": self._sev[keep],
            "own": self._own[keep],
            "total": self._total[keep],
        }
        dead = int((old["total"] == 0).sum())
        self._alloc(capacity)
        n = len(keep)
        self._cell_of[:n] = old["cell_of"]
        self._counts[:n] = old["counts"]
        self._sev[:n] = old["sev"]
        self._own[:n] = old["own"]
        self._total[:n] = old["total"]
        self._meta[:] = (n, dead)
        _rehash(self._table, self._table_slot, self._cell_of, n)

    def _grow(self) -> None:
        n = int(self._meta[_META_SLOTS])
        self._resize(np.arange(n), 2 * len(self._cell_of))

    def _compact(self) -> None:
        n = int(self._meta[_META_SLOTS])
        live = np.flatnonzero(self._total[:n] > 0)
        capacity = len(self._cell_of)
        while capacity > 1024 and 4 * len(live) < capacity:  # shrink after a busy spell
            capacity //= 2
        self._resize(live, capacity)
