"""Monthly three-colour compound ratings: months, counting in compound polygons, thresholds,
two red months running, and the job against a real chDB warehouse."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.envelope import NormalizedAlert
from pipeline.exceptions import ConfigurationError
from pipeline.geo.admin_units import load_registry
from pipeline.ratings import (
    CompanyRectification,
    Month,
    count_in_compounds,
    months_between,
    rate_compounds,
    rating_levels,
    two_months_running,
    write_ratings,
)
from pipeline.settings import RatingThresholds, Settings
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.migrations import SCHEMA_DIR
from pipeline.warehouse.rows import alert_rows
from tests.tiny_city import LAT0, LON0, STEP, tiny_city

THRESHOLDS = RatingThresholds(yellow_at=2, red_at=3)
NEW_COLUMNS = ("under_rectification", "company")  # migration 0017


#: the compounds' property-management companies; C2R2's registry entry names none
COMPANY = {"C1R1": "Acme Property", "C1R2": "Acme Property", "C2R1": "Beta Services"}


def _compound(code: str, community: str, i: float, j: float) -> dict:
    box = shapely.box(
        LON0 + i * STEP, LAT0 + j * STEP, LON0 + (i + 0.3) * STEP, LAT0 + (j + 0.3) * STEP
    )
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": f"{code} Garden",
            "level": "compound",
            "parent": community,
            **({"company": COMPANY[code]} if code in COMPANY else {}),
        },
        "geometry": shapely.geometry.mapping(box),
    }


def _registry():
    city = tiny_city()
    city["features"] += [
        _compound("C1R1", "C1", 0.1, 0.1),
        _compound("C1R2", "C1", 0.5, 1.2),
        _compound("C2R1", "C2", 1.1, 0.1),
        _compound("C2R2", "C2", 1.5, 1.5),
    ]
    return load_registry(city)


REGISTRY = _registry()
CENTRE = {
    code: (float(g.centroid.y), float(g.centroid.x))
    for code, g in zip(REGISTRY.compounds.codes, REGISTRY.compounds.geometry, strict=True)
}
OUTSIDE = (LAT0 + 0.9 * STEP, LON0 + 0.9 * STEP)  # in grid C1G1, in no compound


def test_months_parse_shift_and_range():
    assert Month.parse("2026-11").shift(2) == Month(2027, 1)
    assert Month.parse("2026-01").shift(-1) == Month(2025, 12)
    assert str(Month(2026, 3)) == "2026-03"
    assert months_between("2026-11", "2027-02") == [
        Month(2026, 11),
        Month(2026, 12),
        Month(2027, 1),
        Month(2027, 2),
    ]
    assert months_between("2026-11") == [Month(2026, 11)]


@pytest.mark.parametrize("text", ["2026-13", "2026", "nov", "2026-11-01"])
def test_a_bad_month_says_how_to_write_it(text):
    with pytest.raises(ConfigurationError, match="YYYY-MM"):
        Month.parse(text)


def test_a_reversed_range_is_refused():
    with pytest.raises(ConfigurationError, match="ends before"):
        months_between("2026-11", "2026-10")


def test_month_starts_at_local_midnight():
    # 2026-11-01 00:00 in Shanghai is 2026-10-31 16:00 UTC.
    expected = datetime(2026, 10, 31, 16, tzinfo=UTC).timestamp() * 1000
    assert Month(2026, 11).start_ms(480) == expected


def test_levels_follow_the_thresholds():
    counts = np.array([0, 1, 2, 3, 10])
    assert rating_levels(counts, THRESHOLDS).tolist() == [0, 0, 1, 2, 2]


def test_thresholds_are_validated():
    with pytest.raises(ValueError, match="red_at"):
        RatingThresholds(yellow_at=3, red_at=3)
    with pytest.raises(ValueError, match="no categories"):
        RatingThresholds(categories={"dispatch_110": ("jaywalking",)})
    with pytest.raises(ValueError, match="unknown feed"):
        RatingThresholds(categories={"radio": ("theft",)})
    assert Settings(ratings={"red_at": 90}).ratings.red_at == 90


def test_counting_places_points_in_compounds_and_months():
    bounds = np.array([0, 100, 200], dtype=np.int64)
    lat = np.array(
        [CENTRE["C1R1"][0], CENTRE["C1R1"][0], CENTRE["C2R2"][0], OUTSIDE[0], CENTRE["C2R2"][0]]
    )
    lon = np.array(
        [CENTRE["C1R1"][1], CENTRE["C1R1"][1], CENTRE["C2R2"][1], OUTSIDE[1], CENTRE["C2R2"][1]]
    )
    ms = np.array([0, 99, 100, 150, 200])  # the last is past the final month: not counted
    counts = count_in_compounds(lat, lon, ms, REGISTRY, bounds)
    codes = REGISTRY.compounds.codes.tolist()
    assert counts.shape == (2, 4)
    assert counts[0].tolist() == [2 if c == "C1R1" else 0 for c in codes]
    assert counts[1].tolist() == [1 if c == "C2R2" else 0 for c in codes]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.lists(st.lists(st.integers(0, 2), min_size=n, max_size=n), min_size=2)
    )
)
def test_two_months_running_matches_month_by_month(levels):
    """Against the definition, compound by compound and month by month."""
    level = np.array(levels, np.int8)
    red, rect = two_months_running(level)
    for k in range(1, len(levels)):
        for c, (now, before) in enumerate(zip(levels[k], levels[k - 1], strict=True)):
            assert red[k - 1, c] == (now == 2 and before == 2)
            assert rect[k - 1, c] == (now >= 1 and before >= 1)
    assert not (red & ~rect).any()  # red two months running is always under rectification


# --- the job against chDB -------------------------------------------------------------------------


def _recent_months() -> list[Month]:
    """The three months before the current one (recent: the alerts table keeps 400 days)."""
    now = datetime.now(UTC)
    return [Month(now.year, now.month).shift(k) for k in (-3, -2, -1)]


def _alert(
    n: int, compound: str, ms: int, source: str = "dispatch_110", category: str = "theft"
) -> NormalizedAlert:
    lat, lon = CENTRE[compound] if compound else OUTSIDE
    return NormalizedAlert(
        alert_id=f"{source}:{n}",
        source=source,
        source_id=str(n),
        event_ms=ms,
        lat=lat,
        lon=lon,
        category=category,
        severity=1.0,
        tile="0:0",
    )


@pytest.fixture
def warehouse(tmp_path):
    wh = EmbeddedWarehouse(tmp_path / "chdb")
    migrate(wh)
    yield wh
    wh.close()


def _history(months: list[Month]) -> list[NormalizedAlert]:
    """C1R1 red in all three months; C1R2 red then yellow; C2R1 yellow in the last month only
    (one of its alerts 1 ms before that month starts); C2R2 only uncounted categories."""
    m1, m2, m3 = (m.start_ms(THRESHOLDS.utc_offset_min) + 3_600_000 for m in months)
    m3_start = months[2].start_ms(THRESHOLDS.utc_offset_min)
    plan = (
        [("C1R1", m1 + k) for k in range(3)]
        + [("C1R1", m2 + k) for k in range(4)]
        + [("C1R1", m3 + k) for k in range(3)]
        + [("C1R2", m1 + k) for k in range(3)]
        + [("C1R2", m2 + k) for k in range(2)]
        + [("C2R1", m3_start - 1), ("C2R1", m3_start), ("C2R1", m3 + 5)]
        + [("", m3 + k) for k in range(5)]  # outside every compound
    )
    alerts = [_alert(n, code, ms) for n, (code, ms) in enumerate(plan)]
    alerts += [_alert(100 + k, "C2R2", m3 + k, category="dispute") for k in range(5)]
    alerts += [
        _alert(200 + k, "C2R2", m3 + k, source="camera", category="intrusion") for k in range(5)
    ]
    alerts += [_alert(300, "C2R1", m3, source="alarm_phone", category="intrusion")]
    return alerts


def _table(wh) -> dict[tuple[str, str], tuple]:
    rows = wh.query(
        "SELECT toString(month), compound_code, alerts, rating, red_two_months, community_code, "
        "district_code FROM hotspot.compound_ratings FINAL"
    )
    return {(r[0][:7], r[1]): r[2:] for r in rows}


def test_job_rates_every_compound_and_marks_two_red_months(warehouse):
    months = _recent_months()
    history = _history(months)
    warehouse.insert("alerts", alert_rows(history))
    warehouse.insert("alerts", alert_rows(history[:4]))  # a re-delivered batch counts once

    ratings = rate_compounds(warehouse, REGISTRY, months[1:], THRESHOLDS)
    assert write_ratings(warehouse, ratings, REGISTRY) == 2 * len(REGISTRY.compounds)
    table = _table(warehouse)
    m2, m3 = str(months[1]), str(months[2])
    assert table[(m2, "C1R1")] == (4, "red", 1, "C1", "D1")  # red in the month before, too
    assert table[(m3, "C1R1")] == (3, "red", 1, "C1", "D1")
    assert table[(m2, "C1R2")] == (2, "yellow", 0, "C1", "D1")
    assert table[(m3, "C1R2")] == (0, "green", 0, "C1", "D1")
    assert table[(m2, "C2R1")] == (1, "green", 0, "C2", "D1")  # the alert 1 ms before m3
    assert table[(m3, "C2R1")] == (3, "red", 0, "C2", "D1")  # incl. the alarm intrusion
    assert table[(m3, "C2R2")] == (0, "green", 0, "C2", "D1")  # disputes, cameras: not counted
    assert ratings.summary()[-1] == {
        "month": m3,
        "green": 2,
        "yellow": 0,
        "red": 2,
        "red_two_months": 1,
        "under_rectification": 1,
    }


def test_rating_again_replaces_the_month(warehouse):
    months = _recent_months()
    warehouse.insert("alerts", alert_rows(_history(months)))
    write_ratings(warehouse, rate_compounds(warehouse, REGISTRY, months[2:], THRESHOLDS), REGISTRY)
    stricter = RatingThresholds(yellow_at=4, red_at=10)
    write_ratings(warehouse, rate_compounds(warehouse, REGISTRY, months[2:], stricter), REGISTRY)
    table = _table(warehouse)
    assert len(table) == len(REGISTRY.compounds)
    assert table[(str(months[2]), "C1R1")][:3] == (3, "green", 0)
    assert warehouse.query("SELECT DISTINCT red_at FROM hotspot.compound_ratings FINAL") == [(10,)]


def _rectification_history(months: list[Month]) -> list[NormalizedAlert]:
    """Counts in the two months (yellow from 2, red from 3): C1R1 red then yellow, C1R2
    yellow twice, C2R1 green then red, C2R2 (no company named) yellow then red."""
    plan = {"C1R1": (3, 2), "C1R2": (2, 2), "C2R1": (0, 3), "C2R2": (2, 4)}
    starts = [m.start_ms(THRESHOLDS.utc_offset_min) + 3_600_000 for m in months]
    spots = [
        (code, start + k)
        for code, counts in plan.items()
        for start, n in zip(starts, counts, strict=True)
        for k in range(n)
    ]
    return [_alert(n, code, ms) for n, (code, ms) in enumerate(spots)]


def test_red_or_yellow_two_months_running_is_under_rectification_with_its_company(warehouse):
    months = _recent_months()[1:]
    warehouse.insert("alerts", alert_rows(_rectification_history(months)))
    ratings = rate_compounds(warehouse, REGISTRY, months[1:], THRESHOLDS)
    write_ratings(warehouse, ratings, REGISTRY)
    rows = warehouse.query(
        "SELECT compound_code, rating, under_rectification, red_two_months, company "
        "FROM hotspot.compound_ratings FINAL ORDER BY compound_code"
    )
    assert rows == [
        ("C1R1", "yellow", 1, 0, "Acme Property"),  # red, then yellow
        ("C1R2", "yellow", 1, 0, "Acme Property"),  # yellow twice
        ("C2R1", "red", 0, 0, "Beta Services"),  # green, then red: not yet
        ("C2R2", "red", 1, 0, ""),  # yellow, then red; no company named: unknown
    ]
    assert ratings.summary()[0]["under_rectification"] == 3
    assert ratings.companies() == [
        CompanyRectification(months[1], "Acme Property", ("C1R1", "C1R2")),
        CompanyRectification(months[1], "", ("C2R2",)),
    ]
    assert ratings.companies()[1].label == "(unknown company)"


def test_rectification_counts_the_month_before_the_first_rated(warehouse):
    """Rating the second month alone, or both months, marks it the same."""
    months = _recent_months()[1:]
    warehouse.insert("alerts", alert_rows(_rectification_history(months)))
    both = rate_compounds(warehouse, REGISTRY, months, THRESHOLDS)
    alone = rate_compounds(warehouse, REGISTRY, months[1:], THRESHOLDS)
    np.testing.assert_array_equal(both.under_rectification[1], alone.under_rectification[0])
    assert both.companies(months[0]) == []  # the month before it holds no alert: all green


def test_months_rated_before_migration_0017_read_no_rectification_until_rated_again(tmp_path):
    """The columns arrive with defaults (0, unknown company); rating the month again fills them."""
    older = tmp_path / "schemas"
    older.mkdir()
    for path in sorted(SCHEMA_DIR.glob("*.sql")):
        if path.name < "0017":
            shutil.copy(path, older / path.name)
    months = _recent_months()[1:]
    wh = EmbeddedWarehouse(tmp_path / "chdb")
    try:
        migrate(wh, older)
        wh.insert("alerts", alert_rows(_rectification_history(months)))
        rows = rate_compounds(wh, REGISTRY, months[1:], THRESHOLDS).rows(REGISTRY)
        wh.insert("compound_ratings", {k: v for k, v in rows.items() if k not in NEW_COLUMNS})
        # 0017 and whatever came after it, in order
        assert migrate(wh) == sorted(p.name for p in SCHEMA_DIR.glob("*.sql") if p.name >= "0017")
        query = (
            "SELECT compound_code, under_rectification, company "
            "FROM hotspot.compound_ratings FINAL ORDER BY compound_code"
        )
        assert {r[1:] for r in wh.query(query)} == {(0, "")}
        write_ratings(wh, rate_compounds(wh, REGISTRY, months[1:], THRESHOLDS), REGISTRY)
        assert wh.query(query)[0] == ("C1R1", 1, "Acme Property")
    finally:
        wh.close()


def test_a_registry_without_compounds_is_refused(warehouse):
    with pytest.raises(ConfigurationError, match="no compounds"):
        rate_compounds(warehouse, load_registry(tiny_city()), _recent_months(), THRESHOLDS)


def test_counts_match_a_brute_force_point_in_polygon(city):
    """Random points over the simulated city: counts equal shapely's, compound by compound."""
    registry = load_registry(city.registry)
    rng = np.random.default_rng(4)
    min_lat, min_lon, max_lat, max_lon = registry.bbox
    lat = rng.uniform(min_lat, max_lat, 20_000)
    lon = rng.uniform(min_lon, max_lon, 20_000)
    ms = rng.integers(0, 2_000, 20_000)
    counts = count_in_compounds(lat, lon, ms, registry, np.array([0, 1_000, 2_000]))
    early = ms < 1_000
    expected = np.array(
        [
            [
                int(shapely.covers(g, shapely.points(lon[sel], lat[sel])).sum())
                for g in registry.compounds.geometry
            ]
            for sel in (early, ~early)
        ]
    )
    assert counts.sum() > 500
    np.testing.assert_array_equal(counts, expected)
