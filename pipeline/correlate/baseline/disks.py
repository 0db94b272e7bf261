"""Baselines of whole scoring disks: the expected count of each (cell, radius) disk, fitted
from history by counting exactly what the scan counts.

Scoring counts the events within ``r`` metres of a cell's centre. A per-cell rate surface
averaged over the cells whose centres lie in the disk does not give that count's mean when
events come from points (a camera fires from one spot): a busy camera near the corner of a
diagonal neighbour lies inside the disk but its cell is not averaged in, so cells next to busy
cameras sat at several times their expected count all day and opened false flags, and a
hotspot beside one was hidden. Here every history event is credited to every cell whose
centre lies within ``r`` of it (the same ``<=`` test as the neighour join of the scan), and
those disk counts are fitted per disk and hour of week with the shrinkage of
:func:`pipeline.correlate.baseline.history.fit_cell_hours`, the disk standing in for the cell.
"""

from __future__ import annotations

import numpy as np

from ..lattice import Lattice

__all__ = ["disk_members", "disk_km2"]


def disk_km2(radius_m: float) -> float:
    return float(np.pi * (radius_m / 1000.0) ** 2)


def disk_members(
    x: np.ndarray, y: np.ndarray, lattice: Lattice, radius_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(point, cell_id)``: every cell whose centre lies within ``radius_m`` of the point
    (``dx² + dy² <= r²``). Points ascending, cells in offset order within a point."""
    ix, iy = lattice.index(x, y)
    k = int(np.ceil(radius_m / lattice.cell_m)) + 1
    points, cells = [], []
    for dx in range(-k, k + 1):  # loop per candidate offset: (2k + 1)² of them, <= 49 here
        for dy in range(-k, k + 1):
            cx, cy = lattice.centre(ix + dx, iy + dy)
            inside = np.flatnonzero((cx - x) ** 2 + (cy - y) ** 2 <= radius_m**2)
            points.append(inside)
            cells.append(lattice.cell_id(ix[inside] + dx, iy[inside] + dy))
    p, c = np.concatenate(points), np.concatenate(cells)
    order = np.argsort(p, kind="stable")
    return p[order], c[order]
