"""The Mann-Kendall kernel is scipy's Kendall tau of the series against time, for every row at
once: tau-b and the asymptotic p-value, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from pipeline.trends.mann_kendall import mann_kendall


def scipy_mk(row: np.ndarray) -> tuple[float, float]:
    result = kendalltau(np.arange(len(row)), row, method="asymptotic")
    return float(result.statistic), float(result.pvalue)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(3, 40).flatmap(
        lambda t: st.lists(
            st.lists(st.integers(-3, 3), min_size=t, max_size=t), min_size=1, max_size=6
        )
    )
)
def test_matches_scipy_kendalltau_row_by_row_with_ties(rows):
    """Small integers make many ties, where the variance correction matters."""
    series = np.array(rows, np.float64)
    tau, p = mann_kendall(series)
    for k, row in enumerate(series):
        if np.all(row == row[0]):  # no variation: scipy says NaN, the kernel no trend
            assert (tau[k], p[k]) == (0.0, 1.0)
            continue
        expected_tau, expected_p = scipy_mk(row)
        assert tau[k] == pytest.approx(expected_tau, abs=1e-12)
        assert p[k] == pytest.approx(expected_p, rel=1e-9, abs=1e-15)


def test_a_long_random_panel_matches_scipy():
    rng = np.random.default_rng(23)
    series = rng.normal(size=(50, 28)) + np.linspace(0, 2, 28) * rng.integers(0, 2, (50, 1))
    tau, p = mann_kendall(series)
    expected = np.array([scipy_mk(row) for row in series])
    np.testing.assert_allclose(tau, expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p, expected[:, 1], rtol=1e-9, atol=0)


def test_a_monotone_series_has_tau_one_and_a_small_p():
    tau, p = mann_kendall(np.arange(10.0)[None, :] * np.array([[1.0], [-1.0]]))
    assert tau.tolist() == [1.0, -1.0]
    # S = 45, var = 10 * 9 * 25 / 18 = 125: z = 4.025, p = 5.70e-5
    assert p[0] == p[1] == pytest.approx(5.70e-5, rel=1e-3)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (np.zeros((2, 2)), "at least 3"),
        (np.zeros(5), "2-d"),
        (np.array([[1.0, np.nan, 2.0]]), "NaN"),
    ],
)
def test_bad_series_are_refused_with_what_to_do(series, message):
    with pytest.raises(ValueError, match=message):
        mann_kendall(series)
