"""The tests of one boundary's scored cells in one kernel call: per cell and scale the count's
upper tail and its selective p-value, the most significant scale, a weighted Bonferroni across
a cell's scales, and Benjamini-Hochberg across the tested cells.

This is what :func:`pipeline.correlate.scan.scoring.count_upper_tail`,
:func:`~pipeline.correlate.scan.scoring.selective_upper_tail`,
:func:`~pipeline.correlate.scan.scoring.benjamini_hochberg` and the picks of the most significant
scale compute, the same operations in the same order, fused: a busy boundary tests thousands
of cells at six scales, and about a hundred small NumPy calls per boundary held the
interpreter lock that the worker's main thread needs. The kernel releases it. The tails call
the C functions behind ``scipy.special.gammainc`` and ``betainc`` (their
``scipy.special.cython_special`` exports, passed in as function pointers so that the compiled
kernel can be cached), so every value has the bits of the NumPy reference.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import NamedTuple

import numba
import numpy as np
from numba.extending import get_cython_function_address

__all__ = ["CellTests", "cell_tests"]


# --- kernel ----------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _tail(count, mu, alpha, r, gammainc, betainc):
    """``P(X >= count)``, 1 where ``count <= 0`` (as ``scoring.count_upper_tail``)."""
    if not count > 0:
        return 1.0
    k = max(count, 1.0)
    if alpha == 0:
        return gammainc(k, mu)
    return betainc(k, r, mu / (mu + r))


@numba.njit(cache=True, nogil=True)
def _minimum(a, b):
    # np.minimum: NaN wins
    if a != a or b != b:
        return np.nan
    return a if a < b else b


@numba.njit(cache=True, nogil=True)
def _test_cells(
    by_src, sev, expected, weights, alpha, min_count, bh_q, corroborate, gammainc, betainc
):
    n, n_scales, n_src = by_src.shape
    r = 1.0 / alpha if alpha > 0 else 0.0
    best = np.zeros(n, np.int64)
    count = np.zeros(n, np.int64)
    n_sources = np.zeros(n, np.int64)
    n_corroborating = np.zeros(n, np.int64)
    mean_sev = np.zeros(n)
    best_expected = np.zeros(n)
    p = np.zeros(n)
    significant = np.zeros(n, np.bool_)
    tested_at = np.zeros(n, np.int64)
    counts = np.zeros(n_scales, np.int64)
    tail = np.zeros(n_scales)
    p_all = np.zeros(n_scales)
    rank = np.zeros(n_scales)
    n_tests = 0
    for i in range(n):
        n_tested = 0
        weight_tested = 0.0
        for s in range(n_scales):
            c = 0
            for k in range(n_src):
                c += by_src[i, s, k]
            counts[s] = c
            if c >= min_count:
                n_tested += 1
                weight_tested += weights[s]
        for s in range(n_scales):
            c = counts[s]
            p_all[s] = 1.0
            tail[s] = 1.0
            # A tested cell ranks its tested scales only: the other tails are not needed. At
            # exactly min_count the tail is its own reach: the conditional p-value is 1.
            if n_tested > 0 and c <= min_count:
                continue
            mu = expected[i, s]
            tail[s] = _tail(np.float64(c), mu, alpha, r, gammainc, betainc)
            if c >= min_count:  # tested: the tail given that the count reached min_count
                reach = _tail(np.float64(min_count), mu, alpha, r, gammainc, betainc)
                conditional = tail[s] / reach if reach > 0 else 1.0
                p_all[s] = _minimum(conditional, 1.0)
        # The most significant scale: of the tested ones by p_all over the scale's weight
        # (p_all 1 where untested), else by the plain tail; np.argmin's first minimum, a NaN
        # counting as the minimum.
        if n_tested > 0:
            for s in range(n_scales):
                rank[s] = p_all[s] / weights[s]
        else:
            rank[:] = tail
        b = 0
        if rank[0] == rank[0]:
            for s in range(1, n_scales):
                if rank[s] != rank[s]:
                    b = s
                    break
                if rank[s] < rank[b]:
                    b = s
        best[i] = b
        count[i] = counts[b]
        for k in range(n_src):
            if by_src[i, b, k] > 0:
                n_sources[i] += 1
            if by_src[i, b, k] >= corroborate:
                n_corroborating[i] += 1
        mean_sev[i] = sev[i, b] / max(counts[b], 1)
        best_expected[i] = expected[i, b]
        # Weighted Bonferroni over the tested scales: with equal weights, times their number.
        factor = weight_tested / weights[b] if n_tested > 0 else 1.0
        p[i] = _minimum(p_all[b] * factor, 1.0)
        tested_at[i] = n_tested
        n_tests += n_tested
    # Benjamini-Hochberg over the tested cells, in cell order: a stable sort of their p-values,
    # NaN last (NumPy's order), then the step-up threshold q * k / m.
    m = 0
    for i in range(n):
        if tested_at[i] > 0:
            m += 1
    cells = np.empty(m, np.int64)
    keys = np.empty(m)
    j = 0
    for i in range(n):
        if tested_at[i] > 0:
            cells[j] = i
            keys[j] = p[i] if p[i] == p[i] else np.inf
            j += 1
    order = np.argsort(keys, kind="mergesort")
    k_max = 0
    for j in range(m):
        if p[cells[order[j]]] <= bh_q * (j + 1) / m:
            k_max = j + 1
    for j in range(k_max):
        significant[cells[order[j]]] = True
    return (
        best, count, n_sources, mean_sev, best_expected, p, significant, n_tests, tested_at,
        n_corroborating,
    )  # fmt: skip


# --- Python layer ------------------------------------------------------------------------------


@cache
def _special_functions() -> tuple:
    """``gammainc(a, x)`` and ``betainc(a, b, x)`` (double precision) as C function pointers."""
    double = ctypes.c_double
    address = get_cython_function_address
    gammainc = ctypes.CFUNCTYPE(double, double, double)(
        address("scipy.special.cython_special", "gammainc")
    )
    betainc = ctypes.CFUNCTYPE(double, double, double, double)(
        address("scipy.special.cython_special", "__pyx_fuse_0betainc")  # fuse 0: double
    )
    return gammainc, betainc


class CellTests(NamedTuple):
    """What :func:`cell_tests` returns: per cell, its most significant scale and the figures
    there; the number of (cell, scale) tests made, and how many scales each cell was tested at
    (0: not tested, its p-value is 1 by construction and no flag can open there)."""

    best: np.ndarray  # scale index (params.scales order)
    count: np.ndarray
    n_sources: np.ndarray
    mean_severity: np.ndarray
    expected: np.ndarray
    p_value: np.ndarray  # weighted Bonferroni across the cell's tested scales, capped at 1
    significant: np.ndarray  # Benjamini-Hochberg discovery among the tested cells
    n_tests: int
    scales_tested: np.ndarray  # int64 per cell
    #: feeds holding at least ``corroborate`` of the events at the best scale (the feeds the
    #: score counts as corroboration; ``n_sources`` with ``corroborate`` 1)
    n_corroborating: np.ndarray


def cell_tests(
    by_src: np.ndarray,
    sev: np.ndarray,
    expected: np.ndarray,
    alpha: float,
    min_count: int,
    bh_q: float,
    corroborate: int = 1,
    weights: np.ndarray | None = None,
) -> CellTests:
    """Test every cell at every scale: ``by_src`` ``(cells, scales, sources)`` counts,
    ``sev`` ``(cells, scales)`` severity sums, ``expected`` ``(cells, scales)`` baseline
    counts, ``alpha`` the negative-binomial dispersion (0: Poisson); ``corroborate``: the
    events a feed must hold at the best scale to count in ``n_corroborating``; ``weights``:
    per scale, its weight in the cell's Bonferroni correction (positive; None: equal, a
    tested scale's p-value times the number tested). A scale's p-value is multiplied by the
    summed weight of the cell's tested scales over its own, and the smallest product wins."""
    if not alpha >= 0:
        raise ValueError(f"dispersion alpha must be >= 0, got {alpha!r}")
    by_src = np.ascontiguousarray(by_src, np.int64)
    if by_src.ndim != 3 or sev.shape != by_src.shape[:2] or expected.shape != sev.shape:
        raise ValueError("by_src must be (cells, scales, sources), sev and expected "
                         "(cells, scales)")  # fmt: skip
    n_scales = by_src.shape[1]
    weights = np.ones(n_scales) if weights is None else np.asarray(weights, np.float64)
    if weights.shape != (n_scales,) or not (weights > 0).all():
        raise ValueError(f"weights must be one positive number per scale, got {weights!r}")
    return CellTests(
        *_test_cells(
            by_src,
            np.ascontiguousarray(sev, np.float64),
            np.ascontiguousarray(expected, np.float64),
            weights,
            float(alpha),
            int(min_count),
            float(bh_q),
            int(corroborate),
            *_special_functions(),
        )
    )
