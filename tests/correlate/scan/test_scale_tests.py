"""The fused per-cell tests equal the NumPy reference (tails, selective p-values, best scale,
Bonferroni, Benjamini-Hochberg) bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from pipeline.correlate.scan.scale_tests import cell_tests
from pipeline.correlate.scan.scoring import (
    benjamini_hochberg,
    count_upper_tail,
    selective_upper_tail,
)


def reference(by_src, sev, expected, alpha, min_count, q, corroborate=1, weights=None):
    """The straightforward NumPy version (what scoring computed before the kernel, with the
    weighted Bonferroni of 2026-12-08: equal weights are the plain one)."""
    weights = np.ones(by_src.shape[1]) if weights is None else weights
    count_all = by_src.sum(axis=2)
    tail = count_upper_tail(count_all, expected, alpha)
    p_all = selective_upper_tail(tail, count_all, expected, alpha, min_count)
    n_tested = (count_all >= min_count).sum(axis=1)
    tested = n_tested > 0
    rank = np.where(tested[:, None], p_all / weights, tail)
    best = np.argmin(rank, axis=1) if len(by_src) else np.zeros(0, np.int64)
    rows = np.arange(len(by_src))
    count = count_all[rows, best]
    n_sources = (by_src[rows, best] > 0).sum(axis=1)
    mean_sev = sev[rows, best] / np.maximum(count, 1)
    weight_tested = np.where(count_all >= min_count, weights, 0.0).sum(axis=1)
    factor = np.where(tested, weight_tested / weights[best], 1.0)
    p = np.minimum(p_all[rows, best] * factor, 1.0)
    significant = np.zeros(len(by_src), bool)
    significant[tested] = benjamini_hochberg(p[tested], q)
    return (
        best, count, n_sources, mean_sev, expected[rows, best], p, significant, n_tested.sum(),
        n_tested.astype(np.int64), (by_src[rows, best] >= corroborate).sum(axis=1),
    )  # fmt: skip


@given(
    seed=st.integers(0, 2**32 - 1),
    cells=st.integers(0, 60),
    scales=st.integers(1, 6),
    alpha=st.sampled_from([0.0, 0.0, 0.05, 0.4, 3.0]),
    min_count=st.integers(0, 4),
    q=st.sampled_from([0.05, 0.3, 1.0]),
    busy=st.floats(0.1, 30.0),
    corroborate=st.integers(1, 4),
    weighted=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_fused_tests_equal_the_numpy_reference(
    seed, cells, scales, alpha, min_count, q, busy, corroborate, weighted
):  # fmt: skip
    rng = np.random.default_rng(seed)
    by_src = rng.poisson(busy * rng.random((cells, scales, 4)) ** 3)
    sev = np.round(rng.random((cells, scales)) * by_src.sum(axis=2) * 2**20) / 2**20
    expected = np.exp(rng.uniform(-12, 5, (cells, scales)))
    expected[rng.random((cells, scales)) < 0.05] = 0.0  # a disk the baseline calls empty
    weights = rng.choice([0.5, 1.0, 2.0, 4.0], scales) if weighted else None
    got = cell_tests(by_src, sev, expected, alpha, min_count, q, corroborate, weights)
    want = reference(by_src, sev, expected, alpha, min_count, q, corroborate, weights)
    for name, g, w in zip(got._fields, got, want, strict=True):
        assert np.array_equal(np.asarray(g), np.asarray(w), equal_nan=True), name
        assert np.asarray(g).dtype == np.asarray(w).dtype or name == "n_tests", name


def test_ties_keep_the_first_scale_and_the_first_cell():
    by_src = np.zeros((3, 4, 2), np.int64)
    by_src[:, 1:, 0] = 5  # scales 1-3 hold the same count and expectation: scale 1 wins
    expected = np.full((3, 4), 0.5)
    got = cell_tests(by_src, np.ones((3, 4)), expected, 0.0, 2, 0.3)
    assert got.best.tolist() == [1, 1, 1]
    assert got.significant.tolist() == [True, True, True]
    assert got.n_tests == 9 and got.scales_tested.tolist() == [3, 3, 3]


def test_a_source_corroborates_only_with_enough_events_at_the_best_scale():
    by_src = np.zeros((1, 1, 3), np.int64)
    by_src[0, 0] = [9, 1, 2]  # one camera-like feed, a lone call, a pair of reports
    args = (np.ones((1, 1)), np.full((1, 1), 0.5), 0.0, 2, 0.3)
    assert cell_tests(by_src, *args).n_sources.tolist() == [3]
    assert cell_tests(by_src, *args).n_corroborating.tolist() == [3]  # 1: every feed
    assert cell_tests(by_src, *args, 2).n_corroborating.tolist() == [2]
    assert cell_tests(by_src, *args, 3).n_corroborating.tolist() == [1]
    assert cell_tests(by_src, *args, 3).n_sources.tolist() == [3]  # reported as before


def test_negative_dispersion_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        cell_tests(np.zeros((1, 1, 1), np.int64), np.zeros((1, 1)), np.ones((1, 1)), -1, 2, 0.3)


def test_weights_share_the_bonferroni_budget_among_the_tested_scales():
    """A scale's p-value is multiplied by the summed weight of the tested scales over its own:
    equal weights give Bonferroni's times-the-number; a heavier scale pays less and may win
    over a lighter one with a smaller raw p-value; an untested scale's weight is not spent."""
    by_src = np.zeros((1, 3, 1), np.int64)
    by_src[0, :, 0] = [6, 7, 1]  # scale 2 holds one event: below min_count 2, not tested
    expected = np.full((1, 3), 1.0)
    # selective p-values, Poisson(1) given at least min_count 2
    p6, p7 = poisson.sf(5, 1.0) / poisson.sf(1, 1.0), poisson.sf(6, 1.0) / poisson.sf(1, 1.0)
    plain = cell_tests(by_src, np.ones((1, 3)), expected, 0.0, 2, 0.3)
    assert plain.best.tolist() == [1] and plain.scales_tested.tolist() == [2]
    assert plain.p_value[0] == pytest.approx(p7 * 2, rel=1e-9)
    weights = np.array([16.0, 1.0, 9.0])
    weighted = cell_tests(by_src, np.ones((1, 3)), expected, 0.0, 2, 0.3, weights=weights)
    assert weighted.best.tolist() == [0]  # 6 events win over 7 at a sixteenth of the weight
    assert weighted.p_value[0] == pytest.approx(p6 * 17 / 16, rel=1e-9)
    with pytest.raises(ValueError, match="weights"):
        cell_tests(by_src, np.ones((1, 3)), expected, 0.0, 2, 0.3, weights=np.ones(2))
