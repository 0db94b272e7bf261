"""The multi-scale scan: short windows and small disks find small, fresh hotspots, and every
scale enters the false discovery control (Bonferroni across scales, then BH across cells)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import poisson

from pipeline.correlate import Baseline, CorrelationParams, Correlator
from pipeline.correlate.exceptions import CorrelationError
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.scoring import benjamini_hochberg, score_cells

from .helpers import MIN, PROJECTION, T0, make_batch

# The thresholds these scenarios were written for (the defaults before disk baselines).
STRICT = {"open_score": 7.0, "close_score": 3.0, "bh_q": 0.01}
SINGLE_SCALE = CorrelationParams(windows_s=(1800,), radii_m=(500.0,), **STRICT)  # old defaults
RATE = 3.0  # alerts per hour per km²: quiet, but 8 alerts in a 500 m disk over 30 min is not rare


def small_hotspot_flags(params: CorrelationParams) -> list:
    """Eight alerts within 150 m during four minutes, from T0 + 10 min, on a quiet baseline."""
    rng = np.random.default_rng(7)
    onset = T0 + 10 * MIN
    r, a = 150.0 * np.sqrt(rng.random(8)), rng.uniform(0, 2 * np.pi, 8)
    batch = make_batch(
        1125.0 + r * np.cos(a),
        -375.0 + r * np.sin(a),
        onset + np.arange(8) * 30_000,
        category=np.arange(8),  # distinct incidents, not one burst counted once
        severity=0.5,
    )
    c = Correlator(params, PROJECTION, Baseline(0.0625, RATE, learn=False))
    flags = c.process(batch).flags + c.advance_to(onset + 90 * MIN).flags
    return [f for f in flags if f.status == "open"], onset


def test_small_fresh_hotspot_is_flagged_at_the_short_scale_within_5_min():
    opened, onset = small_hotspot_flags(CorrelationParams(**STRICT))
    assert len(opened) == 1
    assert onset < opened[0].boundary_ms <= onset + 5 * MIN
    assert (opened[0].window_s, opened[0].radius_m) == (300, 250.0)


def test_small_fresh_hotspot_is_missed_by_the_old_single_scale():
    opened, _ = small_hotspot_flags(SINGLE_SCALE)
    assert opened == []


def test_every_scale_counts_in_the_false_discovery_control():
    params = CorrelationParams(**STRICT)  # 3 windows x 2 radii = 6 scales
    lattice = Lattice(250.0)
    boundary = T0 + 30 * MIN - T0 % (60 * MIN)  # the 30-min window lies in one local hour
    # Cell (0, 0): two alerts at its centre 2 min ago; cell (4, 0): one alert 20 min ago.
    rows = {
        "x": np.array([125.0, 125.0, 1125.0]),
        "y": np.full(3, 125.0),
        "source": np.zeros(3, np.int8),
        "severity": np.full(3, 0.5, np.float32),
        "event_ms": boundary - np.array([2, 2, 20]) * MIN,
    }
    s = score_cells(rows, np.array([], np.int64), lattice, Baseline(0.0625, RATE), boundary, params)
    assert s.n_tests == 12
    assert lattice.unpack(s.cell_id)[0].tolist() == [0, 4]
    assert s.window_s.tolist() == [300, 1800] and s.radius_m.tolist() == [250.0, 250.0]
    assert s.count.tolist() == [2, 1]
    # Brute force: the best scale of each cell, Poisson on a flat baseline, times 6 scales.
    mu = RATE * np.pi * 0.25**2 * np.array([5, 30]) / 60
    expected_p = np.minimum(6 * poisson.sf([1, 0], mu), 1.0)
    np.testing.assert_allclose(s.expected, mu, rtol=1e-12)
    np.testing.assert_allclose(s.p_value, expected_p, rtol=1e-9)
    # Alone, the first cell's best p-value (0.0012) passes BH at q = 0.01 over two cells
    # (bar 0.005); counting the six scales it is tested at (0.0070), it does not.
    assert benjamini_hochberg(expected_p / 6, params.bh_q).tolist() == [True, False]
    assert s.significant.tolist() == [False, False]


@pytest.mark.parametrize(
    "fields",
    [
        {"windows_s": ()},
        {"windows_s": (600, 300)},
        {"windows_s": (90,)},
        {"windows_s": (3600,)},
        {"radii_m": (250.0, 250.0)},
        {"radii_m": (750.0,)},
        {"radii_m": (0.0,)},
    ],
)
def test_scales_are_validated(fields):
    with pytest.raises(CorrelationError):
        CorrelationParams(**fields)


def test_scales_round_trip_through_to_dict():
    p = CorrelationParams(windows_s=[300, 1800], radii_m=[250, 500])
    assert p.windows_s == (300, 1800) and p.radii_m == (250.0, 500.0)
    assert CorrelationParams(**p.to_dict()) == p
    assert p.scales == [(300, 250.0), (300, 500.0), (1800, 250.0), (1800, 500.0)]
