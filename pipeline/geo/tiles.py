"""Coarse spatial tiles: they route ``alerts.normalized``, so one partition sees one area.

A correlator owning a tile must also see alerts just across its edges, or pairs and
neighbourhoods that straddle the edge would be missed. Alerts within ``halo_m`` of an edge are
therefore copied to the neighbouring tiles, marked as halo copies (evidence, never owned).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["tile_keys", "halo_copies"]


def tile_keys(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Tile names (``b"ix:iy"``, the ``tile`` column of envelope records) of tile indices."""
    ix, iy = np.asarray(ix, np.int64), np.asarray(iy, np.int64)
    if not len(ix):
        return np.empty(0, "S1")
    # A city has a few dozen tiles: format each distinct tile once (np.char is slow per item),
    # found by one integer code per tile (np.unique over columns sorts rows of a struct view).
    x0, y0 = ix.min(), iy.min()
    span = int(iy.max() - y0) + 1
    codes, inverse = np.unique((ix - x0) * span + (iy - y0), return_inverse=True)
    tiles_x, tiles_y = codes // span + x0, codes % span + y0
    keys = np.char.encode(
        np.char.add(np.char.add(tiles_x.astype(str), ":"), tiles_y.astype(str)), "ascii"
    )
    return keys[inverse.reshape(-1)]


@numba.njit(cache=True)
def _tile_and_halo(x, y, tile_m, halo_m, row_out, ix_out, iy_out, halo_out):
    """Own tile of every point, then one extra row per neighbouring tile within halo_m."""
    n = 0
    for i in range(x.shape[0]):
        tx = np.int64(np.floor(x[i] / tile_m))
        ty = np.int64(np.floor(y[i] / tile_m))
        for dx in (0, -1, 1):
            for dy in (0, -1, 1):
                if dx == 0 and dy == 0:
                    inside = True
                else:
                    gap_x = 0.0
                    if dx == -1:
                        gap_x = x[i] - tx * tile_m
                    elif dx == 1:
                        gap_x = (tx + 1) * tile_m - x[i]
                    gap_y = 0.0
                    if dy == -1:
                        gap_y = y[i] - ty * tile_m
                    elif dy == 1:
                        gap_y = (ty + 1) * tile_m - y[i]
                    inside = gap_x * gap_x + gap_y * gap_y <= halo_m * halo_m
                if inside:
                    row_out[n] = i
                    ix_out[n] = tx + dx
                    iy_out[n] = ty + dy
                    halo_out[n] = not (dx == 0 and dy == 0)
                    n += 1
    return n


def halo_copies(
    x: np.ndarray, y: np.ndarray, tile_m: float, halo_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows to publish: ``(row, tile_ix, tile_iy, is_halo)``, own tile first for each point.

    A point near a corner is copied to the three tiles around it when the corner is in range.
    """
    if halo_m * 2 > tile_m:
        raise ValueError("halo_m must be at most half of tile_m; raise tile_m or lower halo_m")
    n = len(x)
    row = np.empty(4 * n, dtype=np.int64)
    ix = np.empty(4 * n, dtype=np.int64)
    iy = np.empty(4 * n, dtype=np.int64)
    halo = np.empty(4 * n, dtype=np.bool_)
    used = _tile_and_halo(
        np.ascontiguousarray(x, np.float64),
        np.ascontiguousarray(y, np.float64),
        float(tile_m),
        float(halo_m),
        row,
        ix,
        iy,
        halo,
    )
    return row[:used], ix[:used], iy[:used], halo[:used]
