"""Greedy suppression of hot cells near already taken ones (the kernel behind flag opening).

Candidates are visited best first; one is chosen unless a taken cell (an open flag's, or a
candidate chosen before it) lies within the radius; a chosen one is taken from then on.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["suppress_near"]


@numba.njit(cache=True, nogil=True)
def _greedy(cand_ix, cand_iy, taken_ix, taken_iy, r2):
    n_taken = taken_ix.shape[0]
    tx = np.empty(n_taken + cand_ix.shape[0], np.int64)
    ty = np.empty_like(tx)
    tx[:n_taken] = taken_ix
    ty[:n_taken] = taken_iy
    chosen = np.empty(cand_ix.shape[0], np.int64)
    n_chosen = 0
    for k in range(cand_ix.shape[0]):
        free = True
        for m in range(n_taken):
            dx = tx[m] - cand_ix[k]
            dy = ty[m] - cand_iy[k]
            if dx * dx + dy * dy <= r2:
                free = False
                break
        if free:
            chosen[n_chosen] = k
            n_chosen += 1
            tx[n_taken] = cand_ix[k]
            ty[n_taken] = cand_iy[k]
            n_taken += 1
    return chosen[:n_chosen]


def suppress_near(
    cand_ix: np.ndarray,
    cand_iy: np.ndarray,
    taken_ix: np.ndarray,
    taken_iy: np.ndarray,
    radius_cells: float,
) -> np.ndarray:
    """Positions (into the candidate arrays, which are in priority order) of the candidates
    chosen: none within ``radius_cells`` (lattice cells, squared distance compared exactly)
    of a taken cell or of an earlier chosen candidate.

    >>> suppress_near(np.array([0, 1, 5]), np.array([0, 0, 0]), np.array([9]), np.array([0]),
    ...               1.5).tolist()
    [0, 2]
    """
    arrays = [
        np.ascontiguousarray(a, dtype=np.int64) for a in (cand_ix, cand_iy, taken_ix, taken_iy)
    ]
    if arrays[0].shape != arrays[1].shape or arrays[2].shape != arrays[3].shape:
        raise ValueError("cell index arrays must come in aligned (ix, iy) pairs")
    return _greedy(*arrays, float(radius_cells) ** 2)
