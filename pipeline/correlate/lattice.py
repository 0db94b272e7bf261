"""The square scoring lattice on the local projection, and its integer cell ids."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pipeline.geo.kernels import CELL_BITS, CELL_OFFSET

__all__ = ["Lattice"]


@dataclass(frozen=True, slots=True)
class Lattice:
    """Cells ``[ix*cell_m, (ix+1)*cell_m) x [iy*cell_m, (iy+1)*cell_m)`` in projected metres.

    >>> lat = Lattice(250.0)
    >>> ix, iy = lat.index(np.array([10.0, -10.0]), np.array([260.0, 0.0]))
    >>> ix.tolist(), iy.tolist()
    ([0, -1], [1, 0])
    >>> lat.unpack(lat.cell_id(ix, iy))[0].tolist()
    [0, -1]
    """

    cell_m: float

    @property
    def cell_km2(self) -> float:
        return (self.cell_m / 1000.0) ** 2

    def index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.floor(x / self.cell_m).astype(np.int64),
            np.floor(y / self.cell_m).astype(np.int64),
        )

    def cell_id(self, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
        """Packed ids (:func:`pipeline.geo.kernels.pack_cell`, for arrays)."""
        if len(ix) and (np.abs(ix).max() >= CELL_OFFSET or np.abs(iy).max() >= CELL_OFFSET):
            raise ValueError("cell index out of range: are the coordinates in metres?")
        return ((ix + CELL_OFFSET) << CELL_BITS) | (iy + CELL_OFFSET)

    def unpack(self, cell_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cell_id = np.asarray(cell_id, dtype=np.int64)
        return (cell_id >> CELL_BITS) - CELL_OFFSET, (
            cell_id & ((1 << CELL_BITS) - 1)
        ) - CELL_OFFSET

    def centre(self, ix: np.ndarray, iy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (ix + 0.5) * self.cell_m, (iy + 0.5) * self.cell_m

    def disk_offsets(self, radius_m: float) -> np.ndarray:
        """``(k, 2)`` cell offsets whose centres lie within ``radius_m`` of a cell's centre.

        Memoised (scoring asks for the same few radii at every slide): the array is read-only.
        """
        return _disk_offsets(float(self.cell_m), float(radius_m))


@lru_cache(maxsize=64)
def _disk_offsets(cell_m: float, radius_m: float) -> np.ndarray:
    k = int(radius_m // cell_m)
    d = np.arange(-k, k + 1)
    dx, dy = np.meshgrid(d, d, indexing="ij")
    keep = (dx * dx + dy * dy) * cell_m**2 <= radius_m**2
    out = np.stack([dx[keep], dy[keep]], axis=1).astype(np.int64)
    out.flags.writeable = False
    return out
