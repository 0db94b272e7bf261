"""Greedy suppression of hot cells near already taken ones (the kernel behind flag opening).

Candidates are visited best first; one is chosen unless a taken cell (an open flag's, or a
candidate chosen before it) of the same tile lies within the radius; a chosen one is taken from
then on. Tiles (the routing's, issue 23 item 2) keep the choice inside what one partition holds:
a partition owns whole tiles, so a cell's flag depends on its own tile's cells only, whatever
the number of partitions (a hotspot straddling a tile edge may give a flag on each side).

Optionally (``apart_cells`` > 0, the setting ``merge_apart_m``) a candidate farther than
``apart_cells`` from a taken cell is not held back by it when the candidate scores strictly
higher than that cell does at this boundary: a fringe cell of a hotspot, whose disk catches the
hotspot's alerts off centre, scores below the hotspot's own cell, whereas a second cluster
beside an older flag can outscore it (issue 23: a dense hotspot 590 m from an hour-old flag was
masked for 6 minutes at p = 2.9e-8). Candidates come best first, so one chosen earlier at the
same boundary never yields to a later one.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["hot_cells", "suppress_near", "tile_keys"]


@numba.njit(cache=True, nogil=True)
def _greedy(
    cand_ix, cand_iy, cand_tile, cand_score, taken_ix, taken_iy, taken_tile, taken_score, r2, a2
):
    # a2 >= r2 turns the "stronger and apart" exemption off (no taken cell is both within r2
    # and farther than a2).
    n_taken = taken_ix.shape[0]
    tx = np.empty(n_taken + cand_ix.shape[0], np.int64)
    ty = np.empty_like(tx)
    tt = np.empty_like(tx)
    ts = np.empty(tx.shape[0], np.float64)
    tx[:n_taken] = taken_ix
    ty[:n_taken] = taken_iy
    tt[:n_taken] = taken_tile
    ts[:n_taken] = taken_score
    chosen = np.empty(cand_ix.shape[0], np.int64)
    n_chosen = 0
    for k in range(cand_ix.shape[0]):
        free = True
        for m in range(n_taken):
            dx = tx[m] - cand_ix[k]
            dy = ty[m] - cand_iy[k]
            d2 = dx * dx + dy * dy
            if tt[m] == cand_tile[k] and d2 <= r2 and not (d2 > a2 and cand_score[k] > ts[m]):
                free = False
                break
        if free:
            chosen[n_chosen] = k
            n_chosen += 1
            tx[n_taken] = cand_ix[k]
            ty[n_taken] = cand_iy[k]
            tt[n_taken] = cand_tile[k]
            ts[n_taken] = cand_score[k]
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
def _hot_cells(scores, tile, taken, thresholds, r2, a2):
    taken_ix, taken_iy, taken_tile, taken_score = taken
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
    chosen = _greedy(
        ix[cand], iy[cand], tile[cand], score[cand], taken_ix, taken_iy, taken_tile, taken_score,
        r2, a2,
    )  # fmt: skip
    return cand[chosen]


def hot_cells(
    scores: tuple[np.ndarray, ...],
    taken_ix: np.ndarray,
    taken_iy: np.ndarray,
    thresholds: tuple[float, int, float],
    radius_cells: float,
    tile_cells: float = 0.0,
    taken_score: np.ndarray | None = None,
    apart_cells: float = 0.0,
) -> np.ndarray:
    """Rows of the cells that open flags, best score first (ties: the lower row): hot (BH
    significant, ``score >= open_score``, ``count >= min_count`` and ``count >= min_rate_ratio
    * expected``) and, by :func:`suppress_near`, none within ``radius_cells`` of a taken cell
    or of a cell chosen before it in the same tile (side ``tile_cells`` lattice cells; 0: one
    tile). ``scores``: per row (sorted by cell id) ``significant, score, count, expected, ix,
    iy``; ``thresholds``: ``(open_score, min_count, min_rate_ratio)``. With ``apart_cells`` > 0
    and ``taken_score`` (the taken cells' scores at this boundary), a candidate farther than
    ``apart_cells`` from a taken cell and scoring strictly higher is not held back by it.

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
    if taken_score is None:
        taken_score = np.zeros(len(taken_ix))
    if (
        len({len(a) for a in arrays}) > 1
        or len({len(taken_ix), len(taken_iy), len(taken_score)}) > 1
    ):
        raise ValueError("cell columns must be aligned arrays, one value per cell")
    open_score, min_count, ratio = thresholds
    r2 = float(radius_cells) ** 2
    taken = (
        np.ascontiguousarray(taken_ix, np.int64),
        np.ascontiguousarray(taken_iy, np.int64),
        tile_keys(taken_ix, taken_iy, tile_cells),
        np.ascontiguousarray(taken_score, np.float64),
    )
    return _hot_cells(
        arrays,
        tile_keys(arrays[4], arrays[5], tile_cells),
        taken,
        (float(open_score), int(min_count), float(ratio)),
        r2,
        float(apart_cells) ** 2 if apart_cells > 0 else r2,
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
    r2 = float(radius_cells) ** 2
    scores = np.zeros(len(cand_ix)), np.zeros(len(taken_ix))
    return _greedy(cand_ix, cand_iy, none, scores[0], taken_ix, taken_iy, taken, scores[1], r2, r2)
