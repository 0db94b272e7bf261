"""The per-slide merge of learned counts: sorted, unique cells into the baseline's sorted ones.

:meth:`pipeline.correlate.baseline.model.Baseline.observe` merges a slide's counts once per
closed boundary with events. On a sparse city that is thousands of merges of one or two cells
into a few hundred, where a dozen NumPy calls (each a few microseconds of overhead) cost far
more than the arithmetic: one kernel call does it instead, with the same float operations
(``old + count`` for a known cell, ``0.0 + count`` for a new one).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["merge_sorted"]


@numba.njit(cache=True, nogil=True)
def _merge_sorted(ids, counts, cell_ids, add):
    n = cell_ids.shape[0]
    for i in range(1, n):
        if cell_ids[i] <= cell_ids[i - 1]:
            return ids, counts, -1  # not sorted and unique: untouched, the caller's general path
    m = ids.shape[0]
    pos = np.searchsorted(ids, cell_ids)
    fresh = 0
    for i in range(n):
        if pos[i] >= m or ids[pos[i]] != cell_ids[i]:
            fresh += 1
    if fresh == 0:
        for i in range(n):
            counts[pos[i]] += add[i]
        return ids, counts, 0
    out_ids = np.empty(m + fresh, np.int64)
    out_counts = np.empty(m + fresh, np.float64)
    j = 0  # next old cell
    k = 0  # next output slot
    for i in range(n):
        while j < m and ids[j] < cell_ids[i]:
            out_ids[k] = ids[j]
            out_counts[k] = counts[j]
            j += 1
            k += 1
        out_ids[k] = cell_ids[i]
        if j < m and ids[j] == cell_ids[i]:
            out_counts[k] = counts[j] + add[i]
            j += 1
        else:
            out_counts[k] = 0.0 + add[i]
        k += 1
    while j < m:
        out_ids[k] = ids[j]
        out_counts[k] = counts[j]
        j += 1
        k += 1
    return out_ids, out_counts, fresh


def merge_sorted(
    ids: np.ndarray, counts: np.ndarray, cell_ids: np.ndarray, add: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Add ``add`` to the counts of ``cell_ids`` (int64, strictly increasing) in the sorted
    ``ids``/``counts`` (int64/float64). Known cells only: ``counts`` is updated in place and
    returned with ``ids``; with new cells: new arrays with those inserted. Returns the arrays
    and how many cells were new, or -1 (nothing touched) when ``cell_ids`` is not strictly
    increasing.

    >>> ids, counts = np.array([2, 5]), np.array([1.0, 1.0])
    >>> out = merge_sorted(ids, counts, np.array([3, 5]), np.array([4.0, 2.0]))
    >>> out[0].tolist(), out[1].tolist(), out[2]
    ([2, 3, 5], [1.0, 4.0, 3.0], 1)
    """
    return _merge_sorted(ids, counts, cell_ids, add)
