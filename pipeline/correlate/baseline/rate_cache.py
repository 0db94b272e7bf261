"""Memoised disk rates: the baseline rate of the disk around each cell, per hour of week.

Scoring needs, at every slide, the rate of the ``r``-metre disk around each tested cell for the
hours of week its windows overlap (:func:`pipeline.correlate.scan.scoring.score_cells`). The
baseline is configuration unless it learns, and the tested cells barely change from one slide to the
next, so the rates are kept per ``(hour of week, radius)`` and computed only for cells not seen
yet; everything is dropped when the baseline's ``revision`` moves (a learning baseline moves it
at every slide, so there the memo still shares the work between the windows of one slide).
Each cell's rate is computed exactly as without the memo: it depends on that cell alone.

Within one revision, a baseline whose rate is a level per cell times an hour-of-week factor
(:meth:`~pipeline.correlate.baseline.Baseline.levels`) has the levels of the disks' cells looked
up once, for the largest radius, and shared by every hour and smaller radius: the per-hour
tables then cost a product and a mean, the same operations on the same values as before.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..lattice import Lattice
from .model import Baseline

__all__ = ["DiskRateCache"]


def _disk_rates(
    baseline: Baseline, lattice: Lattice, ix: np.ndarray, iy: np.ndarray, how: int, radius_m: float
) -> np.ndarray:
    """The disk's own rate where the baseline models whole disks, else the mean rate of the
    cells whose centres lie in the disk (alerts per hour per km²)."""
    rates = baseline.disk_rates(lattice.cell_id(ix, iy), how, radius_m)
    if rates is not None:
        return rates
    offsets = lattice.disk_offsets(radius_m)
    return (
        baseline.expected(_disk_cells(lattice, ix, iy, offsets), how)
        .reshape(len(ix), len(offsets))
        .mean(axis=1)
    )


def _disk_cells(lattice: Lattice, ix: np.ndarray, iy: np.ndarray, offsets: np.ndarray):
    """Ids of the cells at ``offsets`` from each cell, row by row (``len(ix) * len(offsets)``)."""
    return lattice.cell_id(
        (ix[:, None] + offsets[:, 0]).ravel(), (iy[:, None] + offsets[:, 1]).ravel()
    )


@lru_cache(maxsize=64)
def _columns(lattice: Lattice, radius_m: float, within_m: float) -> np.ndarray:
    """Positions of ``radius_m``'s disk offsets among ``within_m``'s (a larger disk)."""
    at = {tuple(o): k for k, o in enumerate(lattice.disk_offsets(within_m).tolist())}
    out = np.array([at[tuple(o)] for o in lattice.disk_offsets(radius_m).tolist()], np.int64)
    out.flags.writeable = False  # memoised: shared by every call
    return out


class DiskRateCache:
    """Disk rates of one baseline on one lattice, memoised per (hour of week, radius)."""

    def __init__(self, baseline: Baseline, lattice: Lattice, radii_m: tuple[float, ...] = ()):
        self.baseline = baseline
        self.lattice = lattice
        self._revision = baseline.revision
        self._tables: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}
        # A baseline whose rates are a level per cell times an hour-of-week factor: the levels
        # of the disks' cells are looked up once per revision and set of cells, for the
        # largest of ``radii_m`` (the radii scoring asks for), and shared by every hour and
        # smaller radius; each rate is then the product and mean it was without sharing.
        self._factors = type(baseline).expected is Baseline.expected
        self._largest = max(radii_m, default=0.0)
        self._levels: tuple[np.ndarray, float, np.ndarray] | None = None

    def rates(self, cell_ids: np.ndarray, how: int, radius_m: float) -> np.ndarray:
        """Rate of the ``radius_m`` disk around each cell (``cell_ids`` sorted, unique) at hour
        of week ``how``."""
        if self.baseline.revision != self._revision:
            self._tables.clear()
            self._levels = None
            self._revision = self.baseline.revision
        key = (int(how), float(radius_m))
        if key not in self._tables and len(cell_ids) and (np.diff(cell_ids) > 0).all():
            # A fresh table (every slide for a learning baseline): the rates of all the cells,
            # kept as they come (sorted and unique already), with no lookup or merge.
            ix, iy = self.lattice.unpack(cell_ids)
            out = np.array(self._disk_rates(cell_ids, ix, iy, *key), np.float64)
            self._tables[key] = (np.array(cell_ids, np.int64), out.copy())
            return out
        ids, values = self._tables.get(key, (np.empty(0, np.int64), np.empty(0)))
        pos = np.minimum(np.searchsorted(ids, cell_ids), max(len(ids) - 1, 0))
        known = ids[pos] == cell_ids if len(ids) else np.zeros(len(cell_ids), bool)
        out = np.empty(len(cell_ids))
        out[known] = values[pos[known]]
        missing = ~known
        if missing.any():
            ix, iy = self.lattice.unpack(cell_ids[missing])
            out[missing] = self._disk_rates(cell_ids[missing], ix, iy, key[0], key[1])
            merged = np.concatenate([ids, cell_ids[missing]])
            order = np.argsort(merged, kind="stable")
            self._tables[key] = (merged[order], np.concatenate([values, out[missing]])[order])
        return out

    def _disk_rates(
        self, cell_ids: np.ndarray, ix: np.ndarray, iy: np.ndarray, how: int, radius_m: float
    ) -> np.ndarray:
        """:func:`_disk_rates`, from the shared levels where the baseline factors."""
        if not self._factors or self.baseline.disk_rates(cell_ids, how, radius_m) is not None:
            return _disk_rates(self.baseline, self.lattice, ix, iy, how, radius_m)
        memo = self._levels
        if memo is None or memo[1] < radius_m or not np.array_equal(memo[0], cell_ids):
            within = max(radius_m, self._largest)
            offsets = self.lattice.disk_offsets(within)
            levels = self.baseline.levels(_disk_cells(self.lattice, ix, iy, offsets))
            kept = np.array(cell_ids, np.int64)  # a copy: the caller's array may change
            memo = self._levels = (kept, within, levels.reshape(len(ix), len(offsets)))
        levels = memo[2]
        if memo[1] != radius_m:
            # np.take keeps rows C-contiguous: a mean over a strided layout sums in another
            # order (other bits) than over the reshaped lookup of the reference.
            levels = np.take(levels, _columns(self.lattice, radius_m, memo[1]), axis=1)
        return (levels * self.baseline.profile[how]).mean(axis=1)
