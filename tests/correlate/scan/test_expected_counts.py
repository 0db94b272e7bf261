"""Expected disk counts of a factoring baseline in one kernel: equal, bit for bit, to scoring's
general path (per scale, through the disk-rate memo)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.baseline.history import CellHourBaseline
from pipeline.correlate.baseline.model import Baseline
from pipeline.correlate.baseline.rate_cache import DiskRateCache
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.params import CorrelationParams
from pipeline.correlate.scan.expected_counts import (
    PAIRWISE_MAX,
    factored_expectations,
    pairwise_sum,
)
from pipeline.correlate.scan.scoring import _expected_all

T0 = 1_790_000_000_000


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, PAIRWISE_MAX))
@settings(max_examples=200, deadline=None)
def test_pairwise_sum_is_numpys_row_sum(seed, n):
    rng = np.random.default_rng(seed)
    rows = np.exp(rng.normal(0, 8, (3, n))) * rng.choice([-1.0, 1.0], (3, n))
    for row, want in zip(rows, rows.sum(axis=1), strict=True):
        assert pairwise_sum(row, 0, n) == want


@given(
    seed=st.integers(0, 2**32 - 1),
    windows=st.sampled_from([(300, 600, 1800), (60,), (1800,), (120, 3600)]),
    radii=st.sampled_from([(250.0, 500.0), (500.0,), (250.0, 400.0, 750.0), (100.0, 1000.0)]),
    cell_m=st.sampled_from([250.0, 200.0]),
    offset_ms=st.integers(0, 7 * 86_400_000),
    learn=st.booleans(),
)
@settings(max_examples=120, deadline=None)
def test_kernel_equals_the_general_path(seed, windows, radii, cell_m, offset_ms, learn):
    rng = np.random.default_rng(seed)
    params = CorrelationParams(
        window_s=max(windows), windows_s=windows, radii_m=radii, cell_m=cell_m,
        hotspot_radius_m=max(radii),
    )  # fmt: skip
    lattice = Lattice(cell_m)
    ids = lattice.cell_id(rng.integers(-9, 9, 90), rng.integers(-9, 9, 90))
    baseline = Baseline(
        lattice.cell_km2, rng.uniform(0.1, 9.0), profile=rng.uniform(0.2, 3.0, 168),
        cell_ids=ids, counts=rng.random(90) * 40, hours=rng.uniform(0, 50), learn=learn,
    )  # fmt: skip
    rates = DiskRateCache(baseline, lattice, radii)
    for _ in range(3):  # boundaries one slide apart, the baseline learning in between
        b = T0 + offset_ms - offset_ms % 60_000
        cells = np.unique(lattice.cell_id(rng.integers(-10, 10, 50), rng.integers(-10, 10, 50)))
        got = factored_expectations(baseline, lattice, cells, b, params)
        want = _expected_all(baseline, lattice, cells, b, params, rates)
        assert got.shape == want.shape == (len(cells), len(params.scales))
        assert np.array_equal(got, want)
        baseline.observe(cells[:5], np.arange(1.0, 6.0)[: len(cells[:5])], 1 / 60)
        offset_ms += 60_000


def test_baselines_with_their_own_rates_take_the_general_path():
    lattice = Lattice(250.0)
    table = CellHourBaseline(lattice.cell_km2, np.ones(168), np.array([5]), np.ones((1, 168)))
    cells = np.array([5], np.int64)
    assert factored_expectations(table, lattice, cells, T0, CorrelationParams()) is None
    plain = Baseline(lattice.cell_km2, 1.0)
    huge = CorrelationParams(cell_m=50.0)  # a 500 m disk of 50 m cells: more than 128 cells
    assert factored_expectations(plain, Lattice(50.0), cells, T0, huge) is None
