"""Recall, time to first flag and false flags on hand-made flags and planted hotspots."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.correlate.flags.evaluation import PlantedHotspot, evaluate_detection
from pipeline.correlate.flags.tracker import FlagEvent
from pipeline.correlate.scan.tally import EFFECTIVE_PER_NEW_TEST

from ..helpers import MIN, PROJECTION, T0

DAY = 1440 * MIN


def flag(x: float, y: float, opened: int, status: str = "open", fid: str = "f") -> FlagEvent:
    lat, lon = PROJECTION.to_latlon(np.array([x]), np.array([y]))
    return FlagEvent(
        flag_id=fid,
        version=1,
        status=status,
        boundary_ms=opened,
        opened_ms=opened,
        lat=float(lat[0]),
        lon=float(lon[0]),
        radius_m=500.0,
        window_s=1800,
        cell_id=1,
        score=9.0,
        p_value=1e-9,
        gi_z=3.0,
        observed=9,
        expected=1.0,
        n_sources=2,
        source_counts={},
        category_counts={},
        grid=-1,
        first_event_ms=None,
        last_event_ms=None,
    )


def spot(x: float, y: float, start: int, end: int) -> PlantedHotspot:
    lat, lon = PROJECTION.to_latlon(np.array([x]), np.array([y]))
    return PlantedHotspot(float(lat[0]), float(lon[0]), 200.0, start, end, 4.0)


def test_hand_made_case():
    planted = [
        spot(0, 0, T0, T0 + 30 * MIN),
        spot(5000, 0, T0, T0 + 30 * MIN),
        spot(0, 5000, T0 + 60 * MIN, T0 + 90 * MIN),
    ]
    flags = [
        flag(650, 0, T0 + 4 * MIN, fid="a"),  # 650 m < 200 + 500: detects spot 0 after 4 min
        flag(650, 0, T0 + 5 * MIN, "update", fid="a"),  # not an opening
        flag(0, 0, T0 + 2 * MIN, "close", fid="z"),  # not an opening either
        flag(5000, 100, T0 + 10 * MIN, fid="b"),  # spot 1 after 10 min
        flag(5000, 0, T0 + 50 * MIN, fid="c"),  # after spot 1 ended, within the grace period
        flag(0, 5800, T0 + 70 * MIN, fid="d"),  # 800 m from spot 2: too far, a false flag
        flag(-9000, 0, T0 + 70 * MIN, fid="e"),  # nowhere near anything: a false flag
    ]
    r = evaluate_detection(flags, planted, PROJECTION, area_km2=50.0, span_ms=DAY // 2)
    assert (r.planted, r.detected, r.flags_opened, r.false_flags) == (3, 2, 5, 2)
    assert r.recall == pytest.approx(2 / 3) and r.precision == pytest.approx(3 / 5)
    assert r.covered == (False, False, False) and r.covering_flags == 0
    assert r.delays_s == (240.0, 600.0, None)
    assert r.median_delay_s == 420.0
    assert r.false_flags_per_10km2_day == pytest.approx(2 / 5 / 0.5)


def test_no_planted_hotspots_every_opening_is_false():
    r = evaluate_detection([flag(0, 0, T0, fid="a")], [], PROJECTION, area_km2=10.0, span_ms=DAY)
    assert math.isnan(r.recall) and r.false_flags == 1 and r.false_flags_per_10km2_day == 1.0
    assert r.median_delay_s is None


def test_rate_needs_an_area_and_a_span():
    with pytest.raises(ValueError, match="area_km2"):
        evaluate_detection([], [], PROJECTION, area_km2=0.0, span_ms=DAY)


def test_a_hotspot_starting_under_an_open_flag_is_covered_without_a_delay():
    planted = [spot(0, 0, T0 + 30 * MIN, T0 + 60 * MIN), spot(5000, 0, T0 + 30 * MIN, T0 + DAY)]
    flags = [
        flag(300, 0, T0, fid="a"),  # opened 30 min before spot 0, open at its onset
        flag(300, 0, T0 + 40 * MIN, "close", fid="a"),
        flag(5000, 0, T0, fid="b"),  # near spot 1 but closed before it began: no cover
        flag(5000, 0, T0 + 20 * MIN, "close", fid="b"),
    ]
    r = evaluate_detection(flags, planted, PROJECTION, area_km2=50.0, span_ms=DAY)
    assert r.covered == (True, False)
    assert r.delays_s == (None, None)
    # Covered is not detected: recall counts the hotspots a flag opened for (issue 23).
    assert (r.detected, r.recall, r.median_delay_s) == (0, 0.0, None)
    assert (r.n_covered, r.recall_with_covered) == (1, 0.5)
    # Flag a opened near no planted hotspot: a false flag covering spot 0 by chance.
    assert (r.covering_flags, r.covering_false) == (1, 1)
    assert r.false_flags == 2 and r.precision == 0.0


def test_a_hotspot_covered_by_the_flag_of_an_earlier_hotspot_is_covered_by_a_true_flag():
    planted = [spot(0, 0, T0, T0 + 60 * MIN), spot(300, 0, T0 + 30 * MIN, T0 + 90 * MIN)]
    flags = [flag(100, 0, T0 + 5 * MIN, fid="a")]  # opens for spot 0, still open at spot 1
    r = evaluate_detection(flags, planted, PROJECTION, area_km2=50.0, span_ms=DAY)
    assert r.delays_s == (300.0, None) and r.covered == (False, True)
    assert (r.detected, r.recall, r.n_covered) == (1, 0.5, 1)
    assert (r.covering_flags, r.covering_false, r.false_flags, r.precision) == (1, 0, 0, 1.0)


def test_delay_after_the_third_alert_in_the_disc_and_span():
    planted = [spot(0, 0, T0, T0 + 60 * MIN), spot(5000, 0, T0, T0 + 60 * MIN)]
    flags = [flag(0, 0, T0 + 10 * MIN, fid="a"), flag(5000, 0, T0 + 20 * MIN, fid="b")]
    # spot 0: alerts at 1, 2 (outside the disc), 3, 4 and 12 min: its third in the disc is at 4
    # min; one before the onset does not count. Spot 1 holds two alerts only.
    xs = np.array([0, 900, 50, -50, 0, 0, 5000, 5000], np.float64)
    minutes = np.array([1, 2, 3, 4, 12, -5, 1, 2])
    lat, lon = PROJECTION.to_latlon(xs, np.zeros(len(xs)))
    alerts = (T0 + minutes * MIN, lat, lon)
    r = evaluate_detection(flags, planted, PROJECTION, area_km2=50.0, span_ms=DAY, alerts=alerts)
    assert r.delays_after_third_s == (360.0, None)
    assert r.median_delay_after_third_s == 360.0 and r.median_delay_s == 900.0


def test_claimed_false_flags_per_day_is_the_threshold_times_the_effective_cell_tests():
    """The tally counts new tests; a quarter of them are effective (scan.tally)."""
    assert EFFECTIVE_PER_NEW_TEST == 0.25
    r = evaluate_detection(
        [flag(0, 0, T0, fid="a")],
        [],
        PROJECTION,
        area_km2=10.0,
        span_ms=DAY // 4,
        cell_tests=2_000,
        claimed_p=1e-3,
    )
    # 500 effective tests x 1e-3: 0.5 claimed in a quarter day
    assert r.claimed_false_flags_per_day == pytest.approx(2.0)
    assert r.false_flags_per_day == pytest.approx(4.0)
    assert r.cell_tests_per_day == pytest.approx(2_000.0)
    without = evaluate_detection([], [], PROJECTION, area_km2=10.0, span_ms=DAY)
    assert without.claimed_false_flags_per_day is None and math.isnan(without.precision)
