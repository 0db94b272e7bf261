"""Memoised disk rates: equal to fresh computation, dropped when the baseline learns."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.baseline.model import Baseline
from pipeline.correlate.baseline.rate_cache import DiskRateCache, _disk_rates
from pipeline.correlate.lattice import Lattice

LATTICE = Lattice(250.0)


def _fresh(baseline, cells, how, radius):
    return DiskRateCache(baseline, LATTICE).rates(cells, how, radius)


def _cells(ix, iy):
    return np.unique(LATTICE.cell_id(np.asarray(ix), np.asarray(iy)))


def test_memoised_rates_equal_fresh_ones_for_any_subset_order():
    rng = np.random.default_rng(3)
    ids = LATTICE.cell_id(rng.integers(-5, 5, 50), rng.integers(-5, 5, 50))
    baseline = Baseline(LATTICE.cell_km2, 2.0, cell_ids=ids, counts=rng.random(50) * 9, hours=5)
    cache = DiskRateCache(baseline, LATTICE)
    first = _cells(rng.integers(-6, 6, 30), rng.integers(-6, 6, 30))
    second = _cells(rng.integers(-6, 6, 30), rng.integers(-6, 6, 30))
    for cells in (first, second, first):
        assert np.array_equal(cache.rates(cells, 17, 500.0), _fresh(baseline, cells, 17, 500.0))


def test_learning_drops_the_memo():
    baseline = Baseline(LATTICE.cell_km2, 2.0)
    cache = DiskRateCache(baseline, LATTICE)
    cells = _cells([0, 1], [0, 0])
    before = cache.rates(cells, 0, 250.0)
    baseline.observe(cells[:1], np.array([50]), 1.0)
    after = cache.rates(cells, 0, 250.0)
    assert not np.array_equal(before, after)
    assert np.array_equal(after, _fresh(baseline, cells, 0, 250.0))


def test_frozen_baseline_keeps_the_memo():
    baseline = Baseline(LATTICE.cell_km2, 2.0, learn=False)
    cache = DiskRateCache(baseline, LATTICE)
    cells = _cells([0], [0])
    cache.rates(cells, 0, 250.0)
    baseline.observe(cells, np.array([50]), 1.0)  # a no-op: not learning
    assert baseline.revision == 0
    assert np.array_equal(cache.rates(cells, 0, 250.0), _fresh(baseline, cells, 0, 250.0))


@given(
    seed=st.integers(0, 2**32 - 1),
    radii=st.lists(st.sampled_from([250.0, 400.0, 500.0, 750.0]), min_size=1, max_size=3),
    calls=st.lists(
        st.tuples(st.integers(0, 167), st.integers(0, 3), st.booleans(), st.booleans()),
        min_size=1,
        max_size=12,
    ),
)
@settings(max_examples=60, deadline=None)
def test_shared_levels_give_the_rates_of_each_hour_and_radius_alone(seed, radii, calls):
    """The levels looked up once for the largest radius and shared by every hour and smaller
    radius give, bit for bit, the rates computed per hour and radius on their own, through
    learning (the memo drops) and changing sets of cells."""
    rng = np.random.default_rng(seed)
    ids = LATTICE.cell_id(rng.integers(-8, 8, 80), rng.integers(-8, 8, 80))
    profile = rng.uniform(0.2, 3.0, 168)
    baseline = Baseline(
        LATTICE.cell_km2, 2.0, profile=profile, cell_ids=ids, counts=rng.random(80) * 9, hours=5
    )
    cache = DiskRateCache(baseline, LATTICE, tuple(radii))
    cells = _cells(rng.integers(-9, 9, 40), rng.integers(-9, 9, 40))
    for how, r, new_cells, learn in calls:
        if new_cells:
            cells = _cells(rng.integers(-9, 9, 40), rng.integers(-9, 9, 40))
        if learn:
            baseline.observe(cells[:3], np.arange(1.0, 1.0 + len(cells[:3])), 0.5)
        radius = radii[r % len(radii)]
        ix, iy = LATTICE.unpack(cells)
        alone = _disk_rates(baseline, LATTICE, ix, iy, how, radius)
        assert np.array_equal(cache.rates(cells, how, radius), alone)
