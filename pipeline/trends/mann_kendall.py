"""Mann-Kendall trend test of many series at once: one kernel call for every grid cell.

The Mann-Kendall statistic of a series ``y_1..y_T`` is ``S = sum_{i<j} sign(y_j - y_i)``: it is
Kendall's tau between the series and time, so ``scipy.stats.kendalltau(range(T), y,
method="asymptotic")`` *is* the test, and the tests pin this kernel to it (tau-b and p-value).
Under no trend ``S`` is normal with mean 0 and variance ``(T(T-1)(2T+5) - sum_g t_g(t_g-1)(2t_g
+5)) / 18`` over the groups ``g`` of ``t_g`` tied values; ``z = S / sqrt(var)`` and the two-sided
p-value is ``2 (1 - Phi(|z|))`` (no continuity correction, as scipy). Time has no ties, so
tau-b is ``S / sqrt(T(T-1)/2 * (T(T-1)/2 - sum_g t_g(t_g-1)/2))``.

Why not call ``kendalltau`` itself: it tests one series per call, and a city has thousands of
cells; a Python loop over them per classified day would be the slow part of the job. A series
whose values are all equal has no trend: tau 0, p-value 1 (scipy says NaN).

>>> tau, p = mann_kendall(np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 5.0, 5.0, 5.0, 5.0]]))
>>> tau.tolist(), bool(p[0] < 0.05), p[1].item()
([1.0, 0.0], True, 1.0)
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.special import ndtr

__all__ = ["mann_kendall"]


@numba.njit(cache=True, nogil=True)
def _mann_kendall(series, s_out, var_out, pairs_out):
    """Per row of ``series`` (n, T): S, its no-trend variance with the tie correction, and the
    number of pairs not tied in the values (tau-b's second factor). A loop per cell inside the
    kernel, T^2 / 2 comparisons each."""
    n, t = series.shape
    base = t * (t - 1.0) * (2.0 * t + 5.0)
    all_pairs = t * (t - 1.0) / 2.0
    for c in range(n):
        row = series[c]
        s = 0.0
        for i in range(t - 1):
            for j in range(i + 1, t):
                d = row[j] - row[i]
                if d > 0:
                    s += 1.0
                elif d < 0:
                    s -= 1.0
        ordered = np.sort(row)
        ties = 0.0
        tied_pairs = 0.0
        run = 1.0
        for k in range(1, t + 1):
            if k < t and ordered[k] == ordered[k - 1]:
                run += 1.0
            else:
                ties += run * (run - 1.0) * (2.0 * run + 5.0)
                tied_pairs += run * (run - 1.0) / 2.0
                run = 1.0
        s_out[c] = s
        var_out[c] = (base - ties) / 18.0
        pairs_out[c] = all_pairs - tied_pairs


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kendall's tau-b against time and the two-sided Mann-Kendall p-value of each row of
    ``series`` (cells x time steps, oldest first); float64 arrays of one value per row."""
    series = np.asarray(series)
    if series.ndim != 2 or series.dtype.kind not in "fiu":
        raise ValueError("series must be a 2-d numeric array (cells, time steps)")
    if series.shape[1] < 3:
        raise ValueError("Mann-Kendall needs at least 3 time steps per series")
    series = np.ascontiguousarray(series, dtype=np.float64)
    if np.isnan(series).any():
        raise ValueError("series holds NaN; replace undefined values first (np.nan_to_num)")
    n, t = series.shape
    s, var, pairs = np.empty(n), np.empty(n), np.empty(n)
    _mann_kendall(series, s, var, pairs)
    tau = np.zeros(n)
    p = np.ones(n)
    varied = var > 0
    tau[varied] = s[varied] / np.sqrt(t * (t - 1) / 2.0 * pairs[varied])
    z = np.abs(s[varied]) / np.sqrt(var[varied])
    p[varied] = 2.0 * ndtr(-z)
    return tau, np.minimum(p, 1.0)
