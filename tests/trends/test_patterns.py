"""The emerging hot-spot rules on constructed series: one per pattern, hot and cold, the order
in which they are tried, and properties every classification keeps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.trends.patterns import PATTERNS, classify, pattern_name, split_code

T = 10  # time steps: with share 0.9, "at least 90 %" is 9 or 10 of them
RISING, FALLING, FLAT = (0.8, 0.001), (-0.8, 0.001), (0.1, 0.6)  # (tau, p) of the z trend


def steps(*on: int) -> np.ndarray:
    mask = np.zeros(T, bool)
    mask[list(on)] = True
    return mask


ALL = tuple(range(T))
NONE = np.zeros(T, bool)

#: pattern -> (significant steps of its own side, of the other side, trend of z for a hot spot)
SERIES = {
    "new": (steps(9), NONE, FLAT),
    "consecutive": (steps(7, 8, 9), NONE, RISING),
    "intensifying": (steps(*ALL), NONE, RISING),
    "persistent": (steps(*ALL), NONE, FLAT),
    "diminishing": (steps(*range(1, T)), NONE, FALLING),
    "sporadic": (steps(2, 5, 9), NONE, FLAT),
    "oscillating": (steps(6, 9), steps(3), FLAT),
    "historical": (steps(*range(T - 1)), NONE, FALLING),
    "no pattern": (steps(4), NONE, FLAT),
}


def run(own, other, trend, *, cold=False):
    tau, p = trend
    hot, cold_mask = (other, own) if cold else (own, other)
    return int(
        classify(
            hot[:, None], cold_mask[:, None], np.array([-tau if cold else tau]), np.array([p])
        )[0]
    )


@pytest.mark.parametrize("name", SERIES)
def test_each_hot_pattern_from_its_constructed_series(name):
    own, other, trend = SERIES[name]
    code = run(own, other, trend)
    assert PATTERNS[abs(code)] == name
    assert pattern_name(code) == (name if name == "no pattern" else f"{name} hot spot")


@pytest.mark.parametrize("name", SERIES)
def test_each_cold_pattern_mirrors_the_hot_one(name):
    """Cold steps in place of hot ones, and the trend of z reversed (colder and colder is a
    falling z: intensifying for a cold spot)."""
    own, other, trend = SERIES[name]
    code = run(own, other, trend, cold=True)
    assert code == -PATTERNS.index(name)
    assert pattern_name(code) == (name if name == "no pattern" else f"{name} cold spot")


def test_the_thresholds_decide_between_neighbouring_patterns():
    # 8 of 10 steps hot, the final one included: below 90 %, so sporadic, not persistent ...
    assert run(steps(*range(2, T)), NONE, FLAT) == PATTERNS.index("consecutive")
    assert run(steps(0, *range(3, T)), NONE, FLAT) == PATTERNS.index("sporadic")
    # ... and with share 0.8 the same cell is persistent
    hot, cold = steps(0, *range(3, T))[:, None], NONE[:, None]
    code = classify(hot, cold, np.array([0.1]), np.array([0.6]), share=0.8)
    assert code.tolist() == [PATTERNS.index("persistent")]
    # a trend at p = 0.03 is significant at 0.05, not at 0.01
    all_hot = steps(*ALL)[:, None]
    rising = (all_hot, cold, np.array([0.5]), np.array([0.03]))
    assert classify(*rising).tolist() == [PATTERNS.index("intensifying")]
    assert classify(*rising, trend_alpha=0.01).tolist() == [PATTERNS.index("persistent")]


def test_first_rule_in_the_table_wins():
    # hot only today after an earlier cold step: new (listed before oscillating)
    assert run(steps(9), steps(2), FLAT) == PATTERNS.index("new")
    # a run of two at the end after a cold step: consecutive (before oscillating)
    assert run(steps(8, 9), steps(2), FLAT) == PATTERNS.index("consecutive")
    # hot today after being cold in 9 steps: a hot pattern (the final step decides the side)
    assert run(steps(9), steps(*range(T - 1)), FLAT) == PATTERNS.index("new")
    # hot in 9 earlier steps, cold today: a new cold spot, not a historical hot spot
    assert run(steps(*range(T - 1)), steps(9), FLAT) == -PATTERNS.index("new")
    # cold twice before, hot in two earlier steps, cold today: the cold side's oscillating
    assert run(steps(1, 5), steps(3, 7, 9), FLAT) == -PATTERNS.index("oscillating")


def test_bad_masks_are_refused_with_what_is_wrong():
    one = np.zeros((T, 2), bool)
    with pytest.raises(ValueError, match="hot and cold in the same step"):
        classify(one | True, one | True, np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="one value per cell"):
        classify(one, one, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="equal"):
        classify(one, one[:, :1], np.zeros(2), np.ones(2))


def test_codes_split_into_pattern_and_side():
    pattern, spot = split_code(np.array([3, -7, 0]))
    assert pattern.tolist() == ["intensifying", "oscillating", "no pattern"]
    assert spot.tolist() == ["hot", "cold", ""]


masks = st.integers(2, 12).flatmap(
    lambda t: st.tuples(
        st.lists(
            st.lists(st.sampled_from([-1, 0, 1]), min_size=t, max_size=t), min_size=1, max_size=8
        ),
        st.lists(st.tuples(st.floats(-1, 1), st.floats(0, 1)), min_size=8, max_size=8),
    )
)


@settings(max_examples=300, deadline=None)
@given(masks)
def test_every_cell_gets_one_pattern_that_its_own_series_decides(case):
    """Columns are cells: the code of a cell is the code of that cell classified alone (no cell
    influences another), it has the final step's side, and a cell neither hot nor cold today
    can only be historical or nothing."""
    rows, trends = case
    series = np.array(rows, np.int8).T  # (steps, cells): +1 hot, -1 cold
    n = series.shape[1]
    tau = np.array([t for t, _ in trends[:n]])
    p = np.array([q for _, q in trends[:n]])
    codes = classify(series == 1, series == -1, tau, p)
    for c in range(n):
        alone = classify(series[:, [c]] == 1, series[:, [c]] == -1, tau[[c]], p[[c]])
        assert codes[c] == alone[0]
        if series[-1, c] == 1:
            assert codes[c] > 0
        elif series[-1, c] == -1:
            assert codes[c] < 0
        else:
            assert abs(codes[c]) in (0, PATTERNS.index("historical"))
    shuffled = np.random.default_rng(0).permutation(n)
    again = classify(
        series[:, shuffled] == 1, series[:, shuffled] == -1, tau[shuffled], p[shuffled]
    )
    assert (again == codes[shuffled]).all()
