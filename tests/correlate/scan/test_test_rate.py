"""The city's effective cell tests a day from its fitted baseline, and the thresholds that
follow from it (issue 23, item 3)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from pipeline.correlate import CorrelationParams
from pipeline.correlate.baseline.history import CellHourBaseline
from pipeline.correlate.baseline.model import Baseline
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.params import OPEN_P_CEILING
from pipeline.correlate.scan.cells_tested import cells_tested
from pipeline.correlate.scan.tally import EFFECTIVE_PER_NEW_TEST
from pipeline.correlate.scan.test_rate import city_params, city_tests_per_day

PARAMS = CorrelationParams()
LATTICE = Lattice(PARAMS.cell_m)
HOUR_MS = 3_600_000


def uniform_baseline(rate_km2_h: float, side: int, offset: int = 0) -> CellHourBaseline:
    """A fitted table of ``side`` x ``side`` cells (from ``offset``) at one rate every hour."""
    ix, iy = np.meshgrid(np.arange(side) + offset, np.arange(side) + offset, indexing="ij")
    ids = LATTICE.cell_id(ix.ravel(), iy.ravel())
    table = np.full((len(ids), 168), rate_km2_h)
    return CellHourBaseline(LATTICE.cell_km2, np.full(168, 1e-6), ids, table)


def counted_new_tests(
    rate_km2_h: float, hours: int, seed: int, params: CorrelationParams = PARAMS
) -> tuple[float, int]:
    """New tests a day of the inner 10 x 10 cells of a 30 x 30 cell area where events fall
    uniformly at ``rate_km2_h``, counted boundary by boundary as the engine counts them: cells
    the scan tests (:func:`cells_tested`) that an event entered in the slide."""
    rng = np.random.default_rng(seed)
    side_m = 30 * PARAMS.cell_m
    n = rng.poisson(rate_km2_h * (side_m / 1000) ** 2 * hours)
    t = np.sort(rng.integers(0, hours * HOUR_MS, n))
    cols = {
        "x": rng.uniform(0, side_m, n),
        "y": rng.uniform(0, side_m, n),
        "severity": np.ones(n, np.float32),
        "repeat": np.zeros(n, np.int8),
        "event_ms": t,
    }
    slide = params.slide_ms
    new = 0
    for b in range(params.window_ms, hours * HOUR_MS + 1, slide):  # loop per boundary
        lo, hi = np.searchsorted(t, [b - params.window_ms, b], side="right")
        if hi == lo:
            continue
        tested = cells_tested(
            cols, (int(lo), int(hi)), np.array([b]), params.window_ms, 500.0, params.cell_m, 2
        )
        entered = (t > b - slide) & (t <= b)
        ex, ey = LATTICE.index(cols["x"][entered], cols["y"][entered])
        ix, iy = LATTICE.unpack(tested)
        inner = (ix >= 10) & (ix < 20) & (iy >= 10) & (iy < 20)
        new += int(np.isin(tested[inner], LATTICE.cell_id(ex, ey)).sum())
    span_days = (hours * HOUR_MS - params.window_ms) / (24 * HOUR_MS)
    return new / span_days, new


@pytest.mark.parametrize("slide_s", [60, 30])
@pytest.mark.parametrize("rate_km2_h, hours", [(0.5, 240), (2.0, 48), (8.0, 8)])
def test_the_estimate_matches_the_new_tests_counted_on_poisson_events(rate_km2_h, hours, slide_s):
    """From sparse (an entering event meets another about one time in six) to dense (most do),
    the estimate is within 20 % of the count (over 100 new tests each: a Poisson error of at
    most 10 %); a fit is not needed: the table is the truth. Also with 30-second slides, which
    the dense benchmark tried (benchmarks/README.md, "30-second slides")."""
    params = replace(PARAMS, slide_s=slide_s)
    per_day, new = counted_new_tests(rate_km2_h, hours, seed=3, params=params)
    estimate = city_tests_per_day(uniform_baseline(rate_km2_h, 10, 10), params)
    assert estimate is not None
    assert new > 100  # enough tests for the comparison to mean something
    assert estimate / EFFECTIVE_PER_NEW_TEST == pytest.approx(per_day, rel=0.2)


def test_halving_the_slide_barely_adds_new_tests():
    """A new test is a cell an event entered in the slide, so halving the slide doubles the
    boundaries but not the new tests: only two events of one cell in one 60-s slide become two
    tests. At a cell's 0.5 events a minute (a busy dense cell) that is about 13 % more; at the
    dense city as a whole 2 % (17,700 -> 18,100 effective a day)."""
    baseline = uniform_baseline(30.0 / LATTICE.cell_km2, 10)  # 30 events an hour a cell
    sixty = city_tests_per_day(baseline, PARAMS)
    thirty = city_tests_per_day(baseline, replace(PARAMS, slide_s=30))
    assert 1.0 < thirty / sixty < 1.15


def test_dispersion_raises_the_estimate_by_the_size_bias():
    """Given one event, a negative-binomial disk holds (1 + alpha) mu more on average."""
    poisson = uniform_baseline(0.01, 10)
    overdispersed = replace_dispersion(poisson, 3.0)
    ratio = city_tests_per_day(overdispersed, PARAMS) / city_tests_per_day(poisson, PARAMS)
    assert ratio == pytest.approx(4.0, rel=0.01)


def replace_dispersion(baseline: CellHourBaseline, alpha: float) -> CellHourBaseline:
    ids, table, fallback = baseline.rows()
    return CellHourBaseline(baseline.cell_km2, fallback, ids, table, dispersion=alpha)


def test_a_sparse_city_gets_bars_scaled_to_its_tests_and_the_ceiling():
    sparse = uniform_baseline(0.005, 40)
    tests = city_tests_per_day(sparse, PARAMS)
    city = city_params(PARAMS, sparse)
    shift = math.log10(tests / PARAMS.cell_tests_per_day)
    assert tests < 1 and city.cell_tests_per_day == tests
    assert city.open_score == pytest.approx(max(PARAMS.open_score + shift, 0.0))
    assert city.close_score <= city.open_score
    # 1 / (bar x tests) would exceed 1: the ceiling keeps counts at min_count (p = 1) closed
    assert city.open_p_max == OPEN_P_CEILING < 1.0
    assert PARAMS.open_p_max == pytest.approx(1 / (0.02 * 1.8e4))  # the reference's bar


def test_the_reference_city_keeps_its_bars():
    """A table whose estimate is the reference figure leaves the bars where they were."""
    base = uniform_baseline(1.0, 20)
    tests = city_tests_per_day(base, PARAMS)
    city = city_params(replace(PARAMS, cell_tests_per_day=tests), base)
    assert city.open_score == pytest.approx(PARAMS.open_score)
    assert city.close_score == pytest.approx(PARAMS.close_score)


@pytest.mark.parametrize(
    "params, baseline",
    [
        (PARAMS, Baseline(0.0625, 0.05)),  # the learning prior: no fitted table
        (CorrelationParams(tests_from_baseline=False), uniform_baseline(0.005, 40)),
        (CorrelationParams(min_recurrence_days=0.0), uniform_baseline(0.005, 40)),
    ],
)
def test_without_a_table_or_when_turned_off_the_params_stay(params, baseline):
    assert city_params(params, baseline) is params


def test_the_estimate_depends_on_the_baseline_only():
    """Two baselines with the same table give the same figure (every partition builds its own
    from one fit), and the memo returns it again for the same object."""
    a, b = uniform_baseline(0.3, 12), uniform_baseline(0.3, 12)
    assert city_tests_per_day(a, PARAMS) == city_tests_per_day(b, PARAMS)
    assert city_tests_per_day(a, PARAMS) == city_tests_per_day(a, PARAMS)
