"""What a flag reports about the events inside its disk: counts by source and category, the
grid cell of the event nearest the centre, and the first and last event time.

A busy boundary emits hundreds of flag events; selecting each one's rows with NumPy (strip,
mask, bincounts) cost about 110 µs per event in Python overhead. Here one kernel call describes
every disk of a boundary. The figures are those of the exact selection ``(x - cx)**2 +
(y - cy)**2 <= r**2`` and ``event_ms > after_ms`` over the window's events, the nearest event's
ties going to the first in canonical order (the lowest row), as ``np.argmin`` over rows in
canonical order gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.geo.kernels import bucket, bucket_count, layout

__all__ = ["DiskDetails", "RowIndex"]

_MARGIN_M = 1.0  # the box scanned is a superset of the disk: the exact test runs on it
# Rows are laid out by squares this wide (a hashed counting sort): a disk of radius r scans the
# squares of its box, about (2r / 250 + 2)**2 of them, instead of a whole x-strip of the city.
_SQUARE_M = 250.0


# --- kernel ----------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _describe_part(part, base, cell, disks, out, best_d2, best):
    """The events of one laid-out part in each disk: each disk scans the squares of its
    bounding box (plus margin), bucket by bucket. ``base``: the position of the part's first
    event (the nearest event's ties go to the lowest position)."""
    start, gx, gy, row, x, y, t, source, category, grid = part
    cx, cy, r2, reach, after = disks
    by_source, by_category, nearest_grid, first, last = out
    mask = start.shape[0] - 2
    for f in range(cx.shape[0]):
        for sx in range(
            math.floor((cx[f] - reach[f]) / cell), math.floor((cx[f] + reach[f]) / cell) + 1
        ):
            for sy in range(
                math.floor((cy[f] - reach[f]) / cell), math.floor((cy[f] + reach[f]) / cell) + 1
            ):
                b = bucket(np.int64(sx), np.int64(sy), mask)
                for q in range(start[b], start[b + 1]):
                    if gx[q] != sx or gy[q] != sy or t[q] <= after[f]:
                        continue
                    dx = x[q] - cx[f]
                    dy = y[q] - cy[f]
                    d2 = dx * dx + dy * dy
                    if d2 > r2[f]:
                        continue
                    i = base + row[q]
                    by_source[f, source[q]] += 1
                    by_category[f, category[q]] += 1
                    if best[f] < 0 or d2 < best_d2[f] or (d2 == best_d2[f] and i < best[f]):
                        best_d2[f] = d2
                        best[f] = i
                        nearest_grid[f] = grid[q]
                    first[f] = min(first[f], t[q])
                    last[f] = max(last[f], t[q])


@numba.njit(cache=True, nogil=True)
def _describe(main, recent, n_main, cell, disks, out):
    """Both parts of an index (``recent``'s positions follow ``main``'s ``n_main``)."""
    best_d2 = np.full(disks[0].shape[0], np.inf)
    best = np.full(disks[0].shape[0], -1, np.int64)
    _describe_part(main, 0, cell, disks, out, best_d2, best)
    _describe_part(recent, n_main, cell, disks, out, best_d2, best)


# --- Python layer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskDetails:
    """Per disk: ``by_source`` ``(disks, sources)`` and ``by_category`` ``(disks, categories)``
    counts, ``grid`` of the nearest event (-1: no event, or its grid), ``first_ms`` / ``last_ms``
    (meaningful only where the disk holds an event: :meth:`found`)."""

    by_source: np.ndarray
    by_category: np.ndarray
    grid: np.ndarray
    first_ms: np.ndarray
    last_ms: np.ndarray

    def found(self, d: int) -> bool:
        """Whether disk ``d`` holds any event."""
        return self.first_ms[d] <= self.last_ms[d]


_COLUMNS = ("x", "y", "event_ms", "source", "category", "grid")


def _copy(cols: dict[str, np.ndarray], rows: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The index's columns of ``rows`` (all rows when None), in their own arrays (the buffer's
    dtypes: a kept index of a million events is about 60 MB)."""
    dtypes = (np.float64, np.float64, np.int64, np.int8, np.int16, np.int32)
    if rows is None:
        return tuple(np.array(cols[c], d) for c, d in zip(_COLUMNS, dtypes, strict=True))
    return tuple(cols[c][rows].astype(d) for c, d in zip(_COLUMNS, dtypes, strict=True))


def _lay_out(columns: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The columns counting-sorted by the hash bucket of their square: a part as
    :func:`_describe_part` reads it, ``(start, gx, gy, row, x, y, t, source, category,
    grid)``, ``row`` the position of each entry in ``columns``."""
    x, y = columns[0], columns[1]
    order, start, gx, gy = layout(x, y, _SQUARE_M, bucket_count(len(x)))
    # squares of 250 m: +-500,000 km fit int32, half the memory of a kept index's squares
    squares = (gx.astype(np.int32), gy.astype(np.int32))
    return (start, *squares, order, *(c[order] for c in columns))


class RowIndex:
    """The events of one boundary: rows ``rows`` (ascending, so in canonical order; None: all)
    of the columns ``x, y, event_ms, source, category, grid``, laid out by squares on first
    use (most boundaries describe no disk).

    An index that was laid out can be kept for later boundaries: :meth:`extend` adds the
    events that came since (the later rows of the canonical order), laid out apart, so a
    boundary lays out its new events, not its window. Events that left the window stay in
    the index: a query's time test (``after_ms``, never before the window) skips them.
    """

    def __init__(self, cols: dict[str, np.ndarray], rows: np.ndarray | None = None) -> None:
        self._pending: tuple[dict[str, np.ndarray], np.ndarray | None] | None = (cols, rows)
        self._main: tuple[np.ndarray, ...] | None = None
        self._n_main = 0
        self._added: list[tuple[np.ndarray, ...]] = []  # columns of the events since
        self._recent: tuple[np.ndarray, ...] | None = None

    @property
    def laid_out(self) -> bool:
        """Whether a query laid the events out (the index may then be extended)."""
        return self._main is not None

    def extend(self, cols: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Add rows ``rows`` of ``cols``: events after every one indexed so far (canonical
        order). Only for an index that was laid out (its own copies of the columns)."""
        if not self.laid_out:
            raise ValueError("only a laid-out index can be extended; build a new one instead")
        if len(rows):
            self._added.append(_copy(cols, rows))
            self._recent = None

    def _parts(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        if self._main is None:
            cols, rows = self._pending
            self._main = _lay_out(_copy(cols, rows))
            self._n_main = len(self._main[3])
            self._pending = None
        if self._recent is None:
            empty = _copy({c: np.empty(0) for c in _COLUMNS}, None)
            added = self._added or [empty]
            self._recent = _lay_out(tuple(np.concatenate(c) for c in zip(*added, strict=True)))
        return self._main, self._recent

    def describe(
        self, cx: np.ndarray, cy: np.ndarray, radius_m: np.ndarray, after_ms: np.ndarray
    ) -> DiskDetails:
        """The events within ``radius_m`` of ``(cx, cy)`` with event time after ``after_ms``
        (one disk per element), summarised."""
        n = len(cx)
        radius_m = np.asarray(radius_m, np.float64)
        out = DiskDetails(
            by_source=np.zeros((n, len(SOURCES)), np.int64),
            by_category=np.zeros((n, len(CATEGORIES)), np.int64),
            grid=np.full(n, -1, np.int64),
            first_ms=np.full(n, np.iinfo(np.int64).max, np.int64),
            last_ms=np.full(n, np.iinfo(np.int64).min, np.int64),
        )
        if not n:
            return out
        disks = (
            np.asarray(cx, np.float64),
            np.asarray(cy, np.float64),
            radius_m**2,
            radius_m + _MARGIN_M,
            np.asarray(after_ms, np.int64),
        )
        outputs = (out.by_source, out.by_category, out.grid, out.first_ms, out.last_ms)
        _describe(*self._parts(), self._n_main, _SQUARE_M, disks, outputs)
        return out
