"""Greedy suppression of hot cells near already taken ones (the kernel behind flag opening).

Candidates are visited best first; one is chosen unless a taken cell (an open flag's, or a
candidate chosen before it) of the same tile lies within the radius; a chosen one is taken from
then on. Tiles (the routing's, issue 23 item 2) keep the choice inside what one partition holds:
a partition owns whole tiles, so a cell's flag depends on its own tile's cells only, whatever
the number of partitions (a hotspot straddling a tile edge may give a flag on each side).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["hot_cells", "suppress_near", "tile_keys"]


@numba.njit(cache=True, nogil=True)
def _greedy(cand_ix, cand_iy, cand_tile, taken_ix, taken_iy, taken_tile, r2):
    n_taken = taken_ix.shape[0]
    tx = np.empty(n_taken + cand_ix.shape[0], np.int64)
    ty = np.empty_like(tx)
    tt = np.empty_like(tx)
    tx[:n_taken] = taken_ix
    ty[:n_taken] = taken_iy
    tt[:n_taken] = taken_tile
    chosen = np.empty(cand_ix.shape[0], np.int64)
    n_chosen = 0
    for k in range(cand_ix.shape[0]):
        free = True
        for m in range(n_taken):
            dx = tx[m] - cand_ix[k]
            dy = ty[m] - cand_iy[k]
            if tt[m] == cand_tile[k] and dx * dx + dy * dy <= r2:
                free = False
                break
        if free:
            chosen[n_chosen] = k
            n_chosen += 1
            tx[n_taken] = cand_ix[k]
            ty[n_taken] = cand_iy[k]
            tt[n_taken] = cand_tile[k]
            n_taken += 1
    return chosen[:n_chosen]


def tile_keys(ix: np.ndarray, iy: np.ndarray, tile_cells: float) -> np.ndarray:
    """A key per lattice cell naming the tile of side ``tile_cells`` (lattice cells) its
    centre lies in, as the routing places a point (``floor(x / tile_m)``); all 0 when
    ``tile_cells`` is 0 (no tiles: one city-wide choice)."""
    ix, iy = np.asarray(ix, np.int64), np.asarray(iy, np.int64)
    if tile_cells <= 0:
        return np.zeros(len(ix), np.int64)
    tx = np.floor((ix + 0.5) / tile_cells).astype(np.int64)
    ty = np.floor((iy + 0.5) / tile_cells).astype(np.int64)
    return (tx << 32) + ty


@numba.njit(cache=True, nogil=True)
def _hot_cells(scores, tile, taken_ix, taken_iy, taken_tile, thresholds, r2):
    significant, score, count, expected, ix, iy = scores
    open_score, min_count, min_rate_ratio = thresholds
    n = 0
    cand = np.empty(score.shape[0], np.int64)
    for i in range(score.shape[0]):
        if (
            significant[i]
            and score[i] >= open_score
            and count[i] >= min_count
            and count[i] >= min_rate_ratio * expected[i]
        ):
            cand[n] = i
            n += 1
    cand = cand[:n]
    # Best score first; ties keep row order (rows are sorted by cell id): a stable sort.
    cand = cand[np.argsort(-score[cand], kind="mergesort")]
    return cand[_greedy(ix[cand], iy[cand], tile[cand], taken_ix, taken_iy, taken_tile, r2)]


def hot_cells(
    scores: tuple[np.ndarray, ...],
    taken_ix: np.ndarray,
    taken_iy: np.ndarray,
    thresholds: tuple[float, int, float],
    radius_cells: float,
    tile_cells: float = 0.0,
) -> np.ndarray:
    """Rows of the cells that open flags, best score first (ties: the lower row): hot (BH
    significant, ``score >= open_score``, ``count >= min_count`` and ``count >= min_rate_ratio
    * expected``) and, by :func:`suppress_near`, none within ``radius_cells`` of a taken cell
    or of a cell chosen before it in the same tile (side ``tile_cells`` lattice cells; 0: one
    tile). ``scores``: per row (sorted by cell id) ``significant, score, count, expected, ix,
    iy``; ``thresholds``: ``(open_score, min_count, min_rate_ratio)``.

    >>> rows = (np.array([True, True, True]), np.array([5.0, 9.0, 7.0]), np.array([4, 4, 4]),
    ...         np.ones(3), np.array([0, 1, 9]), np.zeros(3, np.int64))
    >>> hot_cells(rows, np.empty(0, np.int64), np.empty(0, np.int64), (3.0, 2, 2.0), 1.5).tolist()
    [1, 2]
    """
    significant, score, count, expected, ix, iy = scores
    arrays = (
        np.asarray(significant, np.bool_),
        np.asarray(score, np.float64),
        np.asarray(count, np.int64),
        np.asarray(expected, np.float64),
        np.asarray(ix, np.int64),
        np.asarray(iy, np.int64),
    )
    if len({len(a) for a in arrays}) > 1 or len(taken_ix) != len(taken_iy):
        raise ValueError("cell columns must be aligned arrays, one value per cell")
    open_score, min_count, ratio = thresholds
    return _hot_cells(
        arrays,
        tile_keys(arrays[4], arrays[5], tile_cells),
        np.ascontiguousarray(taken_ix, np.int64),
        np.ascontiguousarray(taken_iy, np.int64),
        tile_keys(taken_ix, taken_iy, tile_cells),
        (float(open_score), int(min_count), float(ratio)),
        float(radius_cells) ** 2,
    )


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
    cand_ix, cand_iy, taken_ix, taken_iy = arrays
    none, taken = np.zeros(len(cand_ix), np.int64), np.zeros(len(taken_ix), np.int64)
    return _greedy(cand_ix, cand_iy, none, taken_ix, taken_iy, taken, float(radius_cells) ** 2)
