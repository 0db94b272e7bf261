"""Poisson tail, Benjamini-Hochberg, the score, and per-cell scoring on a hand-made window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from pipeline.correlate.baseline.model import Baseline
from pipeline.correlate.exceptions import CorrelationError
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.params import CorrelationParams
from pipeline.correlate.scan.scoring import (
    benjamini_hochberg,
    hotspot_score,
    poisson_upper_tail,
    score_cells,
)

from ..helpers import MIN, T0


def test_poisson_upper_tail_matches_scipy():
    n = np.array([0, 1, 2, 5, 10, 40, 200])
    for mu in (0.01, 0.7, 3.0, 25.0, 180.0):
        np.testing.assert_allclose(
            poisson_upper_tail(n, np.full(len(n), mu)),
            poisson.sf(n - 1, mu),
            rtol=1e-10,
            atol=1e-300,
        )


def reference_bh(p, q):
    m = len(p)
    ranked = sorted(range(m), key=lambda i: (p[i], i))
    k = max([r + 1 for r in range(m) if p[ranked[r]] <= q * (r + 1) / m], default=0)
    return {ranked[r] for r in range(k)}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=40), st.sampled_from([0.01, 0.05, 0.2]))
def test_benjamini_hochberg_matches_definition(p, q):
    got = benjamini_hochberg(np.array(p, dtype=np.float64), q)
    assert set(np.flatnonzero(got).tolist()) == reference_bh(p, q)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-12, 1.0), st.integers(1, 4), st.floats(0, 1), st.floats(0, 1))
def test_score_is_monotone(p, k, sev, frac):
    base = hotspot_score(np.array([p]), np.array([k]), np.array([sev]), 0.5)[0]
    assert hotspot_score(np.array([p * frac]), np.array([k]), np.array([sev]), 0.5)[0] >= base
    assert hotspot_score(np.array([p]), np.array([min(k + 1, 4)]), np.array([sev]), 0.5)[0] >= base
    assert (
        hotspot_score(np.array([p]), np.array([k]), np.array([sev + (1 - sev) * frac]), 0.5)[0]
        >= base
    )


def test_single_source_mid_severity_scores_minus_log10_p():
    assert hotspot_score(np.array([1e-4]), np.array([1]), np.array([0.5]), 0.5)[0] == pytest.approx(
        4.0
    )


def test_score_cells_on_a_hand_made_window():
    params = CorrelationParams(windows_s=(1800,), radii_m=(500.0,))  # the old single scale
    lattice = Lattice(250.0)
    rate = 2.0  # alerts per hour per km2
    baseline = Baseline(lattice.cell_km2, rate)
    # Eight alerts at the centre of cell (0, 0) from two feeds, one alert 2 km east.
    rows = {
        "x": np.array([125.0, 125.0, 130.0, 120.0] * 2 + [2125.0]),
        "y": np.full(9, 125.0),
        "source": np.array([1, 1, 2, 2] * 2 + [0], dtype=np.int8),
        "severity": np.array([0.5, 0.5, 1.0, 0.2] * 2 + [0.4], dtype=np.float32),
    }
    boundary = T0 + 30 * MIN - T0 % (60 * MIN)  # a window within one local hour or two
    rows["event_ms"] = np.full(9, boundary - 10 * MIN, np.int64)
    s = score_cells(rows, np.array([], np.int64), lattice, baseline, boundary, params)
    assert lattice.unpack(s.cell_id)[0].tolist() == [0, 8]
    assert s.count.tolist() == [8, 1] and s.n_sources.tolist() == [2, 1]
    np.testing.assert_allclose(s.mean_severity, [0.55, 0.4], rtol=1e-6)
    mu = rate * np.pi * 0.25 * 0.5  # 0.785 km2 for half an hour, flat baseline
    np.testing.assert_allclose(s.expected, [mu, mu])
    # Cell (0, 0) is tested given it reached min_count (3); cell (8, 0), with one alert, is not.
    tested = poisson.sf(7, mu) / poisson.sf(params.min_count - 1, mu)
    np.testing.assert_allclose(s.p_value, [tested, 1.0], rtol=1e-10)
    np.testing.assert_allclose(
        s.score, -np.log10(s.p_value) * np.array([1.5, 1.0]) * (0.5 + s.mean_severity)
    )
    assert s.significant.tolist() == [True, False]
    assert s.gi_z[0] > s.gi_z[1]


def test_a_lone_alert_of_another_feed_corroborates_only_at_one_event():
    """Seven alerts of one feed and one of another in a disk: the lone alert multiplies the
    score by 1 + gain with ``corroboration_min_events`` 1 (each feed in the disk counts), not
    with 2; the flag still reports both feeds."""
    lattice = Lattice(250.0)
    baseline = Baseline(lattice.cell_km2, 2.0)
    rows = {
        "x": np.full(8, 125.0),
        "y": np.full(8, 125.0),
        "source": np.array([1] * 7 + [0], dtype=np.int8),
        "severity": np.full(8, 0.5, dtype=np.float32),
    }
    boundary = T0 + 30 * MIN - T0 % (60 * MIN)
    rows["event_ms"] = np.full(8, boundary - 10 * MIN, np.int64)
    by_min = {
        m: score_cells(
            rows,
            np.array([], np.int64),
            lattice,
            baseline,
            boundary,
            CorrelationParams(windows_s=(1800,), radii_m=(500.0,), corroboration_min_events=m),
        )  # fmt: skip
        for m in (1, 2)
    }
    assert by_min[1].n_sources.tolist() == by_min[2].n_sources.tolist() == [2]
    assert by_min[1].p_value.tolist() == by_min[2].p_value.tolist()
    np.testing.assert_allclose(by_min[1].score, 1.5 * by_min[2].score)
    np.testing.assert_allclose(by_min[2].score, -np.log10(by_min[2].p_value))  # severity 0.5
    with pytest.raises(CorrelationError, match="corroboration_min_events"):
        CorrelationParams(corroboration_min_events=0)


def test_open_flag_cells_are_scored_even_when_empty():
    params = CorrelationParams()
    lattice = Lattice(250.0)
    extra = lattice.cell_id(np.array([40]), np.array([40]))
    rows = {
        k: np.empty(0, dt)
        for k, dt in (
            ("x", float),
            ("y", float),
            ("source", np.int8),
            ("severity", np.float32),
            ("event_ms", np.int64),
        )
    }
    s = score_cells(rows, extra, lattice, Baseline(lattice.cell_km2, 1.0), T0, params)
    assert s.cell_id.tolist() == extra.tolist() and s.count.tolist() == [0]
    assert s.p_value.tolist() == [1.0] and not s.significant.any()
