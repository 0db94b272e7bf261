"""Baseline fitted from history: shrinkage per cell and hour, the fallback, the dispersion, and
the negative-binomial tail scoring uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import nbinom

from pipeline.correlate.baseline.history import (
    dispersion_moments,
    estimate_dispersion,
    fit_cell_hours,
)
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.params import CorrelationParams
from pipeline.correlate.scan.scoring import count_upper_tail, poisson_upper_tail

MONDAY_CST = 1_704_038_400_000  # 2024-01-01T00:00+08:00, a Monday
H = 3_600_000
KM2 = 0.0625


def test_shrinkage_on_a_hand_made_week():
    # One week. Cell 1: 2 events in every hour, plus 40 more at 20:00 each day (an evening
    # hub). Cell 2: a single event, Monday 03:10. Cell 3 is never seen.
    start, end = MONDAY_CST, MONDAY_CST + 168 * H
    hours = np.arange(start, end, H)
    evening = hours[np.arange(7) * 24 + 20]
    t1 = np.concatenate([np.repeat(hours, 2), np.repeat(evening, 40)]) + 60_000
    t = np.concatenate([t1, [start + 3 * H + 600_000]])
    cells = np.concatenate([np.ones(len(t1), np.int64), [2]])
    b = fit_cell_hours(
        cells, t, start, end, KM2, utc_offset_min=480, level_prior_events=2.0, hod_prior_events=3.0
    )
    n1, n = len(t1), len(t)
    city_rate = (n + 1) / 2 / 168  # events per cell-hour over the two cells with history
    per_how = np.full(168, 2.0)  # events of both cells in each hour of week (one week)
    per_how[np.arange(7) * 24 + 20] += 40
    per_how[3] += 1
    pseudo = 1 / city_rate  # one pseudo-event at the mean per hour of week
    city = (per_how + 1) / (2 + pseudo)
    shape = (city * (2 + pseudo)).reshape(7, 24).sum(axis=0) / (7 * (2 + pseudo)) / city_rate
    hod_counts = np.full(24, 14.0)
    hod_counts[20] += 280
    level1 = (n1 + 2) / (168 + 2 / city_rate)
    # Cell 1 at 20:00: 294 own events in 7 h against a prior worth 3 events: data dominate.
    rate20 = (hod_counts[20] + 3) / (7 + 3 / (level1 * shape[20]))
    assert b.expected(np.array([1]), 20)[0] == pytest.approx(rate20 / KM2)
    assert rate20 == pytest.approx(294 / 7, rel=0.01)
    # Cell 2 at 03:00: one event in 7 h, shrunk hard towards its (small) level.
    level2 = (1 + 2) / (168 + 2 / city_rate)
    rate3 = (1 + 3) / (7 + 3 / (level2 * shape[3]))
    monday = city[3] / city.reshape(7, 24)[:, 3].mean()  # the city's Monday 03:00 was busier
    assert b.expected(np.array([2]), 3)[0] == pytest.approx(rate3 * monday / KM2)
    assert level2 * shape[3] < rate3 < 1 / 7
    # Cell 3, unseen: the city rate shrunk by 2 pseudo-events against a week of nothing.
    unseen = 2 / (168 + 2 / city_rate) * shape[9]  # Monday 09:00 is like every 09:00
    assert b.expected(np.array([3]), 9)[0] == pytest.approx(unseen / KM2)
    # Hour of week 20 + 24 (Tuesday) equals Monday: every day's 20:00 looked the same.
    assert b.expected(np.array([1]), 44)[0] == pytest.approx(b.expected(np.array([1]), 20)[0])


def test_fitted_baseline_does_not_learn_from_the_stream():
    b = fit_cell_hours(
        np.array([1]),
        np.array([MONDAY_CST]),
        MONDAY_CST,
        MONDAY_CST + 24 * H,
        KM2,
        utc_offset_min=480,
    )
    before = b.expected(np.array([1, 5]), 0).copy()
    b.observe(np.array([1, 5]), np.array([100.0, 100.0]), 1.0)
    np.testing.assert_array_equal(b.expected(np.array([1, 5]), 0), before)


def _poisson_week(rate_per_cell_h: np.ndarray, seed: int):
    """A week of events, Poisson per cell and hour at the given rates, on a 20 x 20 grid."""
    rng = np.random.default_rng(seed)
    lattice = Lattice(250.0)
    n = rng.poisson(np.broadcast_to(rate_per_cell_h, (168, 20, 20)))
    h, ix, iy = np.nonzero(n)
    k = n[h, ix, iy]
    t = MONDAY_CST + np.repeat(h, k) * H + rng.integers(0, H, k.sum())
    x, y = lattice.centre(np.repeat(ix, k), np.repeat(iy, k))
    return {"x": x, "y": y, "event_ms": t.astype(np.int64)}, lattice


def test_dispersion_is_small_for_poisson_and_large_for_gamma_mixed_counts():
    params = CorrelationParams()
    end = MONDAY_CST + 168 * H
    rows, lattice = _poisson_week(np.full((20, 20), 0.5), seed=1)
    # Poisson data: what remains is the error of a rate fitted per disk and hour of day from
    # six training days (~40 events each, relative variance ~1/40), shrunk a little.
    poisson = estimate_dispersion(rows, MONDAY_CST, end, lattice, params)
    assert poisson < 0.03
    # Each cell-hour's rate drawn from a gamma with CV 0.7: alpha of single cells ~ 0.5, of
    # 13-cell disks (independent cells) about 0.5 / 13 ~ 0.04 on top; the estimate must see it.
    rng = np.random.default_rng(2)
    mixed = rng.gamma(2.0, 0.25, (168, 20, 20))
    rows, lattice = _poisson_week(mixed * 4, seed=3)
    assert estimate_dispersion(rows, MONDAY_CST, end, lattice, params) > poisson + 0.02


def _gamma_poisson_5min(alpha: float, mean: float, days: int, seed: int):
    """Events at the centres of 6 x 6 cells 1250 m apart (no disk of 500 m holds two), each
    cell's count in each tiled 5-minute window gamma-Poisson: NB2 ``alpha`` at 5 minutes, and
    ``alpha / 6`` over 30 minutes (a sum of six independent windows)."""
    rng = np.random.default_rng(seed)
    lattice = Lattice(250.0)
    n_win = days * 288
    rate = rng.gamma(1.0 / alpha, alpha * mean, (n_win, 6, 6))
    n = rng.poisson(rate)
    w, ix, iy = np.nonzero(n)
    k = n[w, ix, iy]
    t = MONDAY_CST + np.repeat(w, k) * 300_000 + rng.integers(0, 300_000, k.sum())
    x, y = lattice.centre(np.repeat(ix, k) * 5, np.repeat(iy, k) * 5)
    return {"x": x, "y": y, "event_ms": t.astype(np.int64)}, lattice


def test_dispersion_per_scale_recovers_a_known_alpha_where_it_was_planted():
    rows, lattice = _gamma_poisson_5min(0.5, 2.0, days=5, seed=4)
    end = MONDAY_CST + 5 * 24 * H
    params = CorrelationParams()
    m = dispersion_moments(rows, MONDAY_CST, end, lattice, params, params.scales)
    alpha = {scale: num / den for scale, (num, den) in m.items()}
    # On top of the planted variance, the held-out rate's own error: the relative variance of
    # a disk's hour of day fitted from four training days (~100 events, gamma-mixed), ~0.02.
    for r in (250.0, 500.0):
        assert alpha[(300, r)] == pytest.approx(0.5, abs=0.05)
        assert alpha[(600, r)] == pytest.approx(0.25, abs=0.03)
        assert alpha[(1800, r)] == pytest.approx(0.5 / 6, abs=0.03)
    # The fit's estimate is the one at the widest scale.
    assert estimate_dispersion(rows, MONDAY_CST, end, lattice, params) == pytest.approx(
        alpha[(1800, 500.0)]
    )


def test_dispersion_moments_keep_the_sign_and_the_estimate_clips_it():
    # Exactly one event per cell and 5-minute window: no variance at all, alpha < 0 unclipped.
    lattice = Lattice(250.0)
    w, ix, iy = [a.ravel() for a in np.meshgrid(np.arange(2 * 288), np.arange(3), np.arange(3))]
    x, y = lattice.centre(ix * 5, iy * 5)
    rows = {"x": x, "y": y, "event_ms": MONDAY_CST + w.astype(np.int64) * 300_000 + 1000}
    params = CorrelationParams()
    end = MONDAY_CST + 2 * 24 * H
    ((num, den),) = dispersion_moments(
        rows, MONDAY_CST, end, lattice, params, [(300, 250.0)]
    ).values()
    assert den > 0 and num / den < -0.5  # Var 0 against mu 1: (0 - 1) / 1 before the rate error
    # Over 30 minutes each disk counts exactly 6 every time: less variance than Poisson there too
    assert estimate_dispersion(rows, MONDAY_CST, end, lattice, params) == 0.0


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.5, 2.0])
def test_negative_binomial_tail_matches_scipy(alpha):
    n = np.array([0, 1, 2, 5, 10, 40, 200])
    r = 1.0 / alpha
    for mu in (0.01, 0.7, 3.0, 25.0, 180.0):
        np.testing.assert_allclose(
            count_upper_tail(n, np.full(len(n), mu), alpha),
            nbinom.sf(n - 1, r, r / (r + mu)),
            rtol=1e-9,
            atol=1e-300,
        )


def test_negative_binomial_tail_is_heavier_than_poisson_and_zero_alpha_is_poisson():
    n, mu = np.array([5, 20, 60]), np.array([2.0, 8.0, 30.0])
    assert (count_upper_tail(n, mu, 0.1) > poisson_upper_tail(n, mu)).all()
    np.testing.assert_array_equal(count_upper_tail(n, mu, 0.0), poisson_upper_tail(n, mu))
    with pytest.raises(ValueError, match="alpha"):
        count_upper_tail(n, mu, -0.1)


@pytest.mark.parametrize("fill", [False, True])
def test_a_weekday_the_history_never_saw_keeps_the_hour_of_day_shape_when_filled(fill):
    """Six whole days, Tuesday to Sunday, each with 1 event an hour at night (02:00) and 9 in
    the evening (18:00) in one cell: Monday, never seen, is what a day evaluated right after a
    7-day history cut to whole local days falls on. Filled, Monday keeps about the 1 : 9 of
    every other day; unfilled (today's fits) the city-wide day-of-week modulation at the prior
    undoes the shape and Monday is nearly flat (issue 23 item 3, benchmarks/README.md)."""
    start, end = MONDAY_CST + 24 * H, MONDAY_CST + 7 * 24 * H
    days = np.arange(6) * 24 * H + start
    t = np.concatenate([days + 2 * H + 60_000, np.repeat(days + 18 * H, 9) + 120_000])
    b = fit_cell_hours(np.ones(len(t), np.int64), t, start, end, KM2, utc_offset_min=480,
                       fill_unseen_hours=fill)  # fmt: skip
    cell = np.array([1])
    tuesday = b.expected(cell, 24 + 18)[0] / b.expected(cell, 24 + 2)[0]
    monday = b.expected(cell, 18)[0] / b.expected(cell, 2)[0]
    assert tuesday > 4  # seen days keep their shape (shrunk a little by the prior)
    if fill:
        assert monday == pytest.approx(tuesday, rel=0.1)
    else:  # most of the shape lost (not all: the prior's pseudo-events keep a little)
        assert monday < tuesday / 4
