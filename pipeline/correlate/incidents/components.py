"""Connected components of a pair graph (union-find), the kernel behind incidents and bursts."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["components"]


@numba.njit(cache=True, nogil=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


@numba.njit(cache=True, nogil=True)
def _union_find(n, pi, pj):
    parent = np.arange(n)
    for k in range(pi.shape[0]):
        a = _find(parent, pi[k])
        b = _find(parent, pj[k])
        if a < b:  # the smaller index becomes the root, so roots do not depend on pair order
            parent[b] = a
        elif b < a:
            parent[a] = b
    for i in range(n):
        parent[i] = _find(parent, i)
    return parent


def components(n: int, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
    """Root of every node ``0..n-1`` given edges ``(pi[k], pj[k])``: the smallest node index of
    its component, whatever the order of the edges. Returns an int64 array.

    >>> components(5, np.array([3, 1]), np.array([1, 4])).tolist()
    [0, 1, 2, 1, 1]
    """
    pi, pj = np.asarray(pi), np.asarray(pj)
    if pi.dtype.kind not in "iu" or pj.dtype != pi.dtype:
        raise ValueError("edges must be integer arrays of one dtype (pairs_within returns such)")
    if pi.shape != pj.shape or (
        len(pi) and (min(pi.min(), pj.min()) < 0 or max(pi.max(), pj.max()) >= n)
    ):
        raise ValueError(f"edges must be two aligned arrays of node indices in [0, {n})")
    return _union_find(n, pi, pj)
