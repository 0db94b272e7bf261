"""The multi-scale scan: short windows and small disks find small, fresh hotspots, and every
tested scale enters the false discovery control (a weighted Bonferroni across the scales that
reach ``min_count``, then BH across cells)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import poisson

from pipeline.correlate import Baseline, CorrelationParams, Correlator
from pipeline.correlate.exceptions import CorrelationError
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.scan.scoring import benjamini_hochberg, score_cells

from ..helpers import MIN, PROJECTION, T0, make_batch

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


def test_every_tested_scale_counts_in_the_false_discovery_control():
    # 6 scales, weighed equally: plain Bonferroni
    params = CorrelationParams(**{**STRICT, "bh_q": 0.05, "min_count": 3, "window_weight_ratio": 1})
    lattice = Lattice(250.0)
    boundary = T0 + 30 * MIN - T0 % (60 * MIN)  # the 30-min window lies in one local hour
    # Cell (0, 0): four alerts at its centre 2 min ago; cell (4, 0): one alert 20 min ago.
    rows = {
        "x": np.array([125.0] * 4 + [1125.0]),
        "y": np.full(5, 125.0),
        "source": np.zeros(5, np.int8),
        "severity": np.full(5, 0.5, np.float32),
        "event_ms": boundary - np.array([2, 2, 2, 2, 20]) * MIN,
    }
    s = score_cells(rows, np.array([], np.int64), lattice, Baseline(0.0625, RATE), boundary, params)
    # The first cell reaches min_count at all six scales; the second at none, so it is not
    # tested (p = 1) and keeps the scale of its smallest plain tail, where its alert is.
    assert s.n_tests == 6
    assert lattice.unpack(s.cell_id)[0].tolist() == [0, 4]
    assert s.window_s.tolist() == [300, 1800] and s.radius_m.tolist() == [250.0, 250.0]
    assert s.count.tolist() == [4, 1]
    # Brute force: the best scale's Poisson tail given min_count reached, times 6 scales.
    mu = RATE * np.pi * 0.25**2 * np.array([5, 30]) / 60
    conditional = poisson.sf(3, mu[0]) / poisson.sf(2, mu[0])
    np.testing.assert_allclose(s.expected, mu, rtol=1e-12)
    np.testing.assert_allclose(s.p_value, [min(6 * conditional, 1.0), 1.0], rtol=1e-9)
    # Alone, the first cell's best p-value passes BH at q = 0.05; counting the six scales it
    # is tested at, it does not.
    assert benjamini_hochberg(np.array([conditional]), params.bh_q).tolist() == [True]
    assert s.significant.tolist() == [False, False]
    # With the default weights (4, 2, 1) by window, the 5-min scales hold 8 of the 14 tested
    # weight units between them: the best one pays 14 / 4 instead of 6.
    weighted = replace(params, window_weight_ratio=CorrelationParams().window_weight_ratio)
    s = score_cells(
        rows, np.array([], np.int64), lattice, Baseline(0.0625, RATE), boundary, weighted
    )
    assert s.window_s.tolist() == [300, 1800] and s.radius_m.tolist() == [250.0, 250.0]
    np.testing.assert_allclose(s.p_value, [min(3.5 * conditional, 1.0), 1.0], rtol=1e-9)


def test_a_scale_below_min_count_is_not_tested():
    params = CorrelationParams(**{**STRICT, "min_count": 3})
    lattice = Lattice(250.0)
    boundary = T0 + 30 * MIN - T0 % (60 * MIN)
    # Two alerts where a quiet baseline expects 0.01: rare, but too few to ever open a flag.
    rows = {
        "x": np.array([125.0, 125.0]),
        "y": np.full(2, 125.0),
        "source": np.zeros(2, np.int8),
        "severity": np.full(2, 0.5, np.float32),
        "event_ms": np.full(2, boundary - MIN),
    }
    s = score_cells(rows, np.array([], np.int64), lattice, Baseline(0.0625, 0.1), boundary, params)
    assert s.n_tests == 0 and s.count.tolist() == [2]
    assert s.p_value.tolist() == [1.0] and not s.significant.any()


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
        {"window_weight_ratio": 0.0},
        {"window_weight_ratio": float("nan")},
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
