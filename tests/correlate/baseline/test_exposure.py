"""Stream exposure added slide by slide, also for the slides a correlator skips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.baseline.exposure import add_repeated


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0, 1e6, allow_nan=False),
    st.sampled_from([1 / 60, 5 / 60, 0.1, 1 / 3, 1.0]),
    st.integers(0, 3000),
)
def test_the_same_float_as_adding_one_by_one(total, step, times):
    expected = total
    for _ in range(times):
        expected += step
    assert add_repeated(total, step, times) == expected


def test_differs_from_the_product_where_rounding_does():
    """Why the kernel: 30 slides of 1/60 h added one by one are not 30/60 h to the bit."""
    assert add_repeated(0.0, 1 / 60, 30) != 30 / 60
    assert add_repeated(2.5, 1 / 60, 0) == 2.5


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="times"):
        add_repeated(0.0, 1 / 60, -1)
