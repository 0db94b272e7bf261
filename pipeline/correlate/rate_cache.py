"""Memoised disk rates: the baseline rate of the disk around each cell, per hour of week.

Scoring needs, at every slide, the rate of the ``r``-metre disk around each tested cell for the
hours of week its windows overlap (:func:`pipeline.correlate.scoring.score_cells`). The baseline
is configuration unless it learns, and the tested cells barely change from one slide to the
next, so the rates are kept per ``(hour of week, radius)`` and computed only for cells not seen
yet; everything is dropped when the baseline's ``revision`` moves (a learning baseline moves it
at every slide, so there the memo still shares the work between the windows of one slide).
Each cell's rate is computed exactly as without the memo: it depends on that cell alone.
"""

from __future__ import annotations

import numpy as np

from .baseline import Baseline
from .lattice import Lattice

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
    disk_ids = lattice.cell_id(
        (ix[:, None] + offsets[:, 0]).ravel(), (iy[:, None] + offsets[:, 1]).ravel()
    )
    return baseline.expected(disk_ids, how).reshape(len(ix), len(offsets)).mean(axis=1)


class DiskRateCache:
    """Disk rates of one baseline on one lattice, memoised per (hour of week, radius)."""

    def __init__(self, baseline: Baseline, lattice: Lattice) -> None:
        self.baseline = baseline
        self.lattice = lattice
        self._revision = baseline.revision
        self._tables: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}

    def rates(self, cell_ids: np.ndarray, how: int, radius_m: float) -> np.ndarray:
        """Rate of the ``radius_m`` disk around each cell (``cell_ids`` sorted, unique) at hour
        of week ``how``."""
        if self.baseline.revision != self._revision:
            self._tables.clear()
            self._revision = self.baseline.revision
        key = (int(how), float(radius_m))
        if key not in self._tables and len(cell_ids) and (np.diff(cell_ids) > 0).all():
            # A fresh table (every slide for a learning baseline): the rates of all the cells,
            # kept as they come (sorted and unique already), with no lookup or merge.
            ix, iy = self.lattice.unpack(cell_ids)
            out = np.array(_disk_rates(self.baseline, self.lattice, ix, iy, *key), np.float64)
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
            out[missing] = _disk_rates(self.baseline, self.lattice, ix, iy, key[0], key[1])
            merged = np.concatenate([ids, cell_ids[missing]])
            order = np.argsort(merged, kind="stable")
            self._tables[key] = (merged[order], np.concatenate([values, out[missing]])[order])
        return out
