"""Hour of week, the prior fallback, learning from the stream, and fitting from history."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.correlate.baseline.model import HOURS_PER_WEEK, Baseline, hour_of_week

MONDAY_CST = 1_704_038_400_000  # 2024-01-01T00:00+08:00, a Monday
H = 3_600_000


def test_hour_of_week_in_local_time():
    t = np.array([MONDAY_CST, MONDAY_CST + H - 1, MONDAY_CST + H, MONDAY_CST + 168 * H - 1])
    assert hour_of_week(t, 480).tolist() == [0, 0, 1, 167]
    assert hour_of_week(MONDAY_CST, 0) == 167 - 7  # 16:00 UTC on Sunday


def test_prior_until_history_then_shrunk_cell_level():
    b = Baseline(0.0625, 2.0, prior_hours=24.0)
    cells = np.array([5, 9], np.int64)
    np.testing.assert_allclose(b.expected(cells, 3), [2.0, 2.0])
    b.observe(np.array([5]), np.array([30.0]), 24.0)
    # Cell 5: (30 / 0.0625 + 2 * 24) / 48 = 11; cell 9 saw nothing: 2 * 24 / 48 = 1.
    np.testing.assert_allclose(b.expected(cells, 3), [11.0, 1.0])
    frozen = Baseline(0.0625, 2.0, learn=False)
    frozen.observe(np.array([5]), np.array([30.0]), 24.0)
    np.testing.assert_allclose(frozen.expected(cells, 3), [2.0, 2.0])


def test_state_round_trip():
    b = Baseline(0.0625, 2.0)
    b.observe(np.array([7, 3, 7]), np.array([1.0, 2.0, 3.0]), 1.5)
    c = Baseline(0.0625, 2.0)
    c.load_state(b.state())
    np.testing.assert_array_equal(
        c.expected(np.array([3, 7, 8]), 0), b.expected(np.array([3, 7, 8]), 0)
    )


def test_fit_levels_and_profile():
    # Two weeks of history: cell 1 gets 2 alerts in every hour, plus 20 extra on Monday 08:00.
    start, end = MONDAY_CST, MONDAY_CST + 2 * 168 * H
    hours = np.arange(start, end, H)
    t = np.concatenate([np.repeat(hours, 2), np.repeat(hours[[8, 176]], 10)]) + 60_000
    cells = np.ones(len(t), np.int64)
    b = Baseline.fit(cells, t, start, end, 0.0625, 1.0, utc_offset_min=480, prior_hours=1.0)
    assert np.average(b.profile, weights=np.full(HOURS_PER_WEEK, 3.0)) == pytest.approx(1.0)
    # Hour 8 saw 2 x 12 alerts in 2 h, hour 9 saw 2 x 2; each smoothed with 1 h at the mean rate.
    mean_rate = (len(t) + 1) / (336 + 1)
    assert b.profile[8] / b.profile[9] == pytest.approx((24 + mean_rate) / (4 + mean_rate))
    level = (len(t) / 0.0625 + 1.0) / (336 + 1.0)
    assert b.expected(np.array([1]), 9)[0] == pytest.approx(level * b.profile[9])
    assert b.expected(np.array([2]), 9)[0] == pytest.approx(1.0 / 337 * b.profile[9])


def test_bad_profile_is_rejected():
    with pytest.raises(ValueError, match="168"):
        Baseline(0.0625, 1.0, profile=np.ones(24))


@pytest.mark.parametrize("seed", range(4))
def test_observe_sorted_unique_cells_matches_the_general_merge(seed):
    """The engine's per-slide path (sorted unique cells, merged in place) keeps the same state,
    bit for bit, as the general path (any cells, re-sorted with the history)."""
    rng = np.random.default_rng(seed)
    fast, general = (Baseline(0.01, 5.0) for _ in range(2))
    for _ in range(20):
        cells = np.unique(rng.integers(0, 200, int(rng.integers(0, 30))))
        counts = rng.integers(1, 5, len(cells)).astype(np.float64) * rng.choice([1.0, 0.1])
        fast.observe(cells, counts, 1 / 60)
        flip = np.arange(len(cells))[::-1]  # descending: takes the general path
        general.observe(cells[flip], counts[flip], 1 / 60)
    for name, value in fast.state().items():
        assert value.dtype == general.state()[name].dtype
        assert value.tobytes() == general.state()[name].tobytes()


def test_what_state_and_level_terms_handed_out_never_changes():
    """The per-slide merge adds in place unless the counts were handed out (state(),
    level_terms()): what those returned keeps its values while the baseline learns on."""
    b = Baseline(0.01, 5.0, cell_ids=np.array([1, 4]), counts=np.array([2.0, 3.0]))
    b.observe(np.array([1, 2]), np.array([1.0, 1.0]), 1 / 60)
    state, terms = b.state(), b.level_terms()
    before = state["counts"].copy(), terms.counts.copy()
    b.observe(np.array([1, 4]), np.array([5.0, 5.0]), 1 / 60)  # known cells only: in place
    b.observe(np.array([4]), np.array([1.0]), 1 / 60)
    assert state["counts"].tolist() == before[0].tolist() == [3.0, 1.0, 3.0]
    assert terms.counts.tolist() == before[1].tolist()
    assert b.state()["counts"].tolist() == [8.0, 1.0, 9.0]


@pytest.mark.parametrize("times", [0, 1, 7, 1440])
def test_expose_is_observe_with_no_counts(times):
    """The engine adds skipped slides' exposure with expose(): the same hours, to the bit, and
    the same counts, as observe() with empty cells; nothing while not learning."""
    none = np.empty(0, np.int64)
    a, b = (Baseline(0.01, 5.0, cell_ids=np.array([3]), counts=np.array([2.0])) for _ in "ab")
    for base in (a, b):
        base.observe(np.array([3, 9]), np.array([1.0, 1.0]), 1 / 60)
    a.expose(1 / 60, times)
    b.observe(none, none.astype(np.float64), 1 / 60, times)
    assert a.hours == b.hours and a.revision == b.revision
    assert a.state()["counts"].tobytes() == b.state()["counts"].tobytes()
    frozen = Baseline(0.01, 5.0, learn=False)
    frozen.expose(1 / 60, times)
    assert frozen.hours == 0.0
