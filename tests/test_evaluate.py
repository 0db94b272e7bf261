"""The p-value the opening thresholds claim, which ``hotspot evaluate`` multiplies by the cell
tests a day into the claimed false-flag rate."""

from __future__ import annotations

import pytest

from pipeline.correlate import CorrelationParams
from pipeline.evaluate import claimed_p


def test_without_a_minimum_recurrence_the_score_threshold_states_the_claim():
    assert claimed_p(CorrelationParams(open_score=3.0)) == pytest.approx(1e-3)


def test_a_minimum_recurrence_claims_one_chance_flag_per_that_many_days():
    params = CorrelationParams(min_recurrence_days=30.0, cell_tests_per_day=2e6)
    # p <= 1 / (30 x 2e6): times 2e6 tests a day, 1/30 chance flag a day
    assert claimed_p(params) * params.cell_tests_per_day == pytest.approx(1 / 30)
    loose = CorrelationParams(open_score=3.0, min_recurrence_days=1e-4, cell_tests_per_day=1e6)
    assert claimed_p(loose) == pytest.approx(1e-3)  # the stricter of the two bars
