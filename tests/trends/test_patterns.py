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


# --- through the statistics: constructed counts, Gi* per step, Mann-Kendall, the rules ---------

SIDE = 24  # a 24 x 24 lattice of ~500 m cells
STEPS = 12
#: pattern -> (centre of its 3 x 3 block, {step: alerts added to each cell of the block});
#: a negative number empties a 5 x 5 block in that step instead (a cold spot)
RAMP = np.linspace(5, 16, STEPS)
PLANTED = {
    "new hot spot": ((3, 3), {STEPS - 1: 8}),
    "consecutive hot spot": ((3, 10), dict.fromkeys(range(STEPS - 3, STEPS), 8)),
    "intensifying hot spot": ((3, 17), dict(enumerate(RAMP))),
    "persistent hot spot": ((10, 3), dict.fromkeys(range(STEPS), 8)),
    "diminishing hot spot": ((10, 10), dict(enumerate(RAMP[::-1]))),
    "sporadic hot spot": ((10, 17), {2: 8, 6: 8, STEPS - 1: 8}),
    "oscillating hot spot": ((17, 3), {4: -1, 8: 8, STEPS - 1: 8}),
    "historical hot spot": ((17, 10), dict.fromkeys(range(STEPS - 1), 8)),
    "new cold spot": ((18, 18), {STEPS - 1: -1}),
}


def test_each_pattern_from_constructed_counts_through_gi_star_and_mann_kendall():
    """A background of 2-4 alerts a cell that shifts every step, and one block per pattern
    whose counts follow that pattern's story; the block's centre gets the pattern."""
    from pipeline.trends.mann_kendall import mann_kendall
    from pipeline.trends.neighbours import grid_neighbours
    from pipeline.trends.space_time import hot_and_cold

    row, col = (a.ravel() for a in np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij"))
    counts = 2.0 + (row * 7 + col * 3 + np.arange(STEPS)[:, None]) % 3
    for (r, c), story in PLANTED.values():
        for step, extra in story.items():
            half = 2 if extra < 0 else 1
            block = (abs(row - r) <= half) & (abs(col - c) <= half)
            counts[step, block] = 0 if extra < 0 else counts[step, block] + extra
    indptr, indices = grid_neighbours(31.2 + row * 0.0045, 121.4 + col * 0.0053)
    spots = hot_and_cold(counts, indptr, indices, alpha=0.05)
    tau, p = mann_kendall(np.nan_to_num(spots.z).T)
    codes = classify(spots.hot, spots.cold, tau, p)
    got = {name: pattern_name(int(codes[r * SIDE + c])) for name, ((r, c), _) in PLANTED.items()}
    assert got == {name: name for name in PLANTED}
    # far from every block nothing happens
    assert pattern_name(int(codes[7 * SIDE + 21])) == "no pattern"
