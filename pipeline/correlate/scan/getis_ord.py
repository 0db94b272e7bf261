"""Getis-Ord Gi*: local hot-spot z-scores with binary weights that include the unit itself.

Matches PySAL esda's ``G_Local(y, w, transform="B", star=True).Zs``: for unit ``i`` with
``c_i`` neighbours counting itself, ``G_i = sum_{j in N(i) + i} y_j / sum y``, ``E = c_i / n``,
``V = c_i (n - c_i) / ((n - 1) n^2) * s^2 / ybar^2`` with the population variance ``s^2``, and
``z_i = (G_i - E) / sqrt(V)``. A constant ``y`` has no spatial pattern: its z-scores are NaN
(all zeros included, where ``V`` would be ``0 / 0``).

On the scoring lattice (:func:`gi_star_lattice`) the units are the cells of a rectangle and
the neighbours the cells whose centres lie within the hotspot radius.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["gi_star", "gi_star_lattice", "gi_star_lattice_at", "gi_star_cells"]


@numba.njit(cache=True, nogil=True)
def _gi_star(y, indptr, indices, z):
    n = y.shape[0]
    total = 0.0
    squares = 0.0
    for i in range(n):
        total += y[i]
        squares += y[i] * y[i]
    mean = total / n
    var = squares / n - mean * mean
    if mean == 0.0:  # all zero (no alert left in the window): no pattern, and V would be 0/0
        return
    for i in range(n):
        lag = y[i]
        for k in range(indptr[i], indptr[i + 1]):
            lag += y[indices[k]]
        card = indptr[i + 1] - indptr[i] + 1.0
        expected = card / n
        variance = card * (n - card) / (n - 1) / (n * n) * var / (mean * mean)
        z[i] = (lag / total - expected) / np.sqrt(variance) if variance > 0 else np.nan


@numba.njit(cache=True, nogil=True)
def _lattice_csr(nx, ny, offsets):
    """Neighbours (row-major unit ``ix * ny + iy``) at the given non-zero offsets, clipped."""
    indptr = np.zeros(nx * ny + 1, np.int64)
    indices = np.empty(nx * ny * offsets.shape[0], np.int64)
    k = 0
    for ix in range(nx):
        for iy in range(ny):
            for o in range(offsets.shape[0]):
                jx = ix + offsets[o, 0]
                jy = iy + offsets[o, 1]
                if 0 <= jx < nx and 0 <= jy < ny:
                    indices[k] = jx * ny + jy
                    k += 1
            indptr[ix * ny + iy + 1] = k
    return indptr, indices[:k]


@numba.njit(cache=True, nogil=True)
def _gi_star_at(grid, offsets, qx, qy, z):
    """:func:`_gi_star` on the lattice CSR of ``grid``, evaluated only at cells ``(qx, qy)``:
    the same operations in the same order (row-major sums, neighbours in offset order), so the
    same bits, without building the neighbour lists of every cell."""
    nx, ny = grid.shape
    n = nx * ny
    total = 0.0
    squares = 0.0
    for ix in range(nx):
        for iy in range(ny):
            total += grid[ix, iy]
            squares += grid[ix, iy] * grid[ix, iy]
    mean = total / n
    var = squares / n - mean * mean
    if mean == 0.0:  # all zero (open flags, no alert left in the window): z stays NaN
        return
    for q in range(qx.shape[0]):
        ix, iy = qx[q], qy[q]
        lag = grid[ix, iy]
        neighbours = 0
        for o in range(offsets.shape[0]):
            jx = ix + offsets[o, 0]
            jy = iy + offsets[o, 1]
            if 0 <= jx < nx and 0 <= jy < ny:
                lag += grid[jx, jy]
                neighbours += 1
        card = neighbours + 1.0
        expected = card / n
        variance = card * (n - card) / (n - 1) / (n * n) * var / (mean * mean)
        z[q] = (lag / total - expected) / np.sqrt(variance) if variance > 0 else np.nan


@numba.njit(cache=True, nogil=True)
def _gi_star_cells(cell_ix, cell_iy, values, qx, qy, offsets, max_cells):
    n = qx.shape[0]
    z = np.full(n, np.nan)
    if n == 0:
        return z
    x0, y0, x1, y1 = qx.min(), qy.min(), qx.max(), qy.max()
    nx, ny = x1 - x0 + 1, y1 - y0 + 1
    if nx * ny > max_cells:
        return z
    grid = np.zeros((nx, ny))
    for k in range(cell_ix.shape[0]):
        jx, jy = cell_ix[k] - x0, cell_iy[k] - y0
        if 0 <= jx < nx and 0 <= jy < ny:
            grid[jx, jy] += values[k]
    if nx * ny >= 2:
        _gi_star_at(grid, offsets, qx - x0, qy - y0, z)
    return z


def gi_star(y: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Gi* z-scores of ``y`` with binary weights: each unit's neighbours plus itself.

    Neighbours are in CSR form: the neighbours of unit ``i`` are
    ``indices[indptr[i]:indptr[i + 1]]``, not including ``i`` itself (the self weight is added
    here). Returns float64 z-scores; NaN for all units when ``y`` is constant or ``n < 2``.

    >>> z = gi_star(np.array([1.0, 1.0, 4.0]), np.array([0, 1, 2, 2]), np.array([1, 0]))
    >>> np.round(z, 6).tolist()
    [-1.414214, -1.414214, 1.414214]
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "fiu":
        raise ValueError("y must be a 1-d numeric array; convert with y.astype(np.float64)")
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = len(y)
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    if indptr.shape != (n + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise ValueError("indptr must be non-decreasing, start at 0 and have len(y) + 1 entries")
    if indptr[-1] != len(indices) or (len(indices) and (indices.min() < 0 or indices.max() >= n)):
        raise ValueError("indices must hold indptr[-1] unit numbers in [0, len(y))")
    owner = np.repeat(np.arange(n), np.diff(indptr))
    if (owner == indices).any():
        raise ValueError("neighbour lists must not contain the unit itself; Gi* adds it")
    z = np.full(n, np.nan)
    if n >= 2:
        _gi_star(y, indptr, indices, z)
    return z


def gi_star_lattice(counts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Gi* z-scores of a 2-d array of cell values, neighbours at ``offsets`` ``(k, 2)`` cells.

    The ``(0, 0)`` offset (the cell itself) may be present or not; it is always included once.
    Returns an array shaped like ``counts``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError("counts must be a 2-d array of cell values (x index, y index)")
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    offsets = offsets[(offsets != 0).any(axis=1)]
    indptr, indices = _lattice_csr(counts.shape[0], counts.shape[1], offsets)
    return gi_star(counts.ravel(), indptr, indices).reshape(counts.shape)


def gi_star_lattice_at(
    counts: np.ndarray, offsets: np.ndarray, qx: np.ndarray, qy: np.ndarray
) -> np.ndarray:
    """``gi_star_lattice(counts, offsets)[qx, qy]``, computed only at those cells.

    >>> grid = np.arange(12.0).reshape(3, 4)
    >>> offsets = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    >>> q = (np.array([0, 2]), np.array([3, 1]))
    >>> bool((gi_star_lattice_at(grid, offsets, *q) == gi_star_lattice(grid, offsets)[q]).all())
    True
    """
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError("counts must be a 2-d array of cell values (x index, y index)")
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    offsets = np.ascontiguousarray(offsets[(offsets != 0).any(axis=1)])
    qx, qy = np.asarray(qx, np.int64), np.asarray(qy, np.int64)
    if qx.shape != qy.shape or (
        len(qx)
        and not ((qx >= 0) & (qx < counts.shape[0]) & (qy >= 0) & (qy < counts.shape[1])).all()
    ):
        raise ValueError("query cells must be aligned index arrays inside counts")
    z = np.full(len(qx), np.nan)
    if counts.size >= 2:
        _gi_star_at(counts, offsets, qx, qy, z)
    return z


def gi_star_cells(
    cell_ix: np.ndarray,
    cell_iy: np.ndarray,
    values: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    offsets: np.ndarray,
    max_cells: int,
) -> np.ndarray:
    """Gi* at the cells ``(qx, qy)`` of the rectangle they span, each cell of it holding the
    sum of ``values`` at its ``(cell_ix, cell_iy)`` (0 elsewhere; cells outside are dropped):
    :func:`gi_star_lattice_at` on that grid, built and evaluated in one kernel call. NaN
    everywhere when the rectangle has more than ``max_cells`` cells.

    >>> gi_star_cells(np.array([0, 2]), np.array([0, 0]), np.array([1.0, 4.0]),
    ...               np.array([0, 1, 2]), np.array([0, 0, 0]), np.array([[1, 0], [-1, 0]]),
    ...               100).round(6).tolist()
    [-1.372813, nan, 0.392232]
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    offsets = np.ascontiguousarray(offsets[(offsets != 0).any(axis=1)])
    qx, qy = np.asarray(qx, np.int64), np.asarray(qy, np.int64)
    cell_ix, cell_iy = np.asarray(cell_ix, np.int64), np.asarray(cell_iy, np.int64)
    if qx.shape != qy.shape or cell_ix.shape != cell_iy.shape or values.shape != cell_ix.shape:
        raise ValueError("cells and query cells must be aligned index arrays")
    return _gi_star_cells(
        cell_ix, cell_iy, np.asarray(values, np.float64), qx, qy, offsets, int(max_cells)
    )
