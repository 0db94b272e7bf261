"""Memoised disk rates: equal to fresh computation, dropped when the baseline learns."""

import numpy as np

from pipeline.correlate.baseline import Baseline
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.rate_cache import DiskRateCache

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
