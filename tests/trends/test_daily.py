"""The daily trend job on a real chDB warehouse: constructed alerts stored, every grid cell
classified, the table read back (and through the units dashboard's panel), re-runs idempotent,
and each kind of unusable request refused with what to do."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from pipeline.dashboards import ALL, QueryContext
from pipeline.dashboards.builder import DASHBOARD_DIR
from pipeline.dashboards.preview import preview_dashboard
from pipeline.exceptions import ConfigurationError
from pipeline.settings import TrendSettings
from pipeline.trends import classify_days, days_between, write_trends
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.rows import alert_rows
from tests.trends.history import (
    CODES,
    DAYS,
    LAST,
    PLANTED,
    REGISTRY,
    SETTINGS,
    STEPS,
    N,
    alerts,
    constructed_counts,
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    wh = EmbeddedWarehouse(tmp_path_factory.mktemp("trends") / "chdb")
    migrate(wh)
    wh.insert("alerts", alert_rows(alerts(constructed_counts())))
    yield wh
    wh.close()


def _stored(wh, day: date) -> dict[str, tuple]:
    rows = wh.query(
        "SELECT grid_code, pattern, spot, hot_steps, alerts, district_code "
        f"FROM hotspot.cell_trends FINAL WHERE day = '{day}'"
    )
    return {row[0]: row[1:] for row in rows}


def test_every_cell_is_classified_and_the_planted_blocks_get_their_patterns(warehouse):
    result = classify_days(warehouse, REGISTRY, [LAST], SETTINGS)
    assert write_trends(warehouse, result, REGISTRY) == N
    stored = _stored(warehouse, LAST)
    assert set(stored) == set(CODES)  # every grid cell, "no pattern" included
    counts = constructed_counts()
    for centre, (_, expected) in PLANTED.items():
        pattern, spot, hot_steps, alerts, district = stored[centre]
        assert f"{pattern} {spot} spot" == expected
        assert alerts == counts[:, CODES.index(centre)].sum()
        assert district == REGISTRY.districts.codes[0]
    assert stored["G-001-006"][2] == STEPS  # hot every day
    assert stored["G-007-006"][2] == STEPS - 1
    # far from every block: no pattern
    assert stored["G-004-003"][:2] == ("no pattern", "")


def test_classifying_a_day_again_replaces_its_rows_with_the_same_result(warehouse):
    first = classify_days(warehouse, REGISTRY, [LAST], SETTINGS)
    write_trends(warehouse, first, REGISTRY)
    again = classify_days(warehouse, REGISTRY, [LAST], SETTINGS)
    write_trends(warehouse, again, REGISTRY)
    for name in ("code", "hot_steps", "cold_steps", "final_z", "tau", "trend_p", "alerts"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    ((rows, cells),) = warehouse.query(
        f"SELECT count(), uniqExact(grid_code) FROM hotspot.cell_trends FINAL WHERE day = '{LAST}'"
    )
    assert rows == cells == N


def test_the_units_dashboard_lists_the_patterned_cells_hot_spots_first(warehouse):
    write_trends(warehouse, classify_days(warehouse, REGISTRY, [LAST], SETTINGS), REGISTRY)
    warehouse.execute("USE hotspot")  # Grafana's data source names the database; panels do not
    dashboard = json.loads((DASHBOARD_DIR / "hotspot-units.json").read_text())
    start = datetime(LAST.year, LAST.month, LAST.day, tzinfo=UTC) - timedelta(days=6)
    ctx = QueryContext(start, start + timedelta(days=7), variables={"district": ALL})
    (result,) = [
        r for r in preview_dashboard(warehouse, dashboard, ctx) if r.panel.startswith("Grid cell")
    ]
    assert not result.problems, result.problems
    rows = warehouse.query_columns(result.sql)
    stored = _stored(warehouse, LAST)
    patterned = {code for code, row in stored.items() if row[0] != "no pattern"}
    assert set(rows["grid"]) == patterned
    assert {"G-001-001", "G-001-006", "G-007-006"} <= set(rows["grid"])
    spots = [p.split()[-2] for p in rows["pattern"]]
    assert spots == sorted(spots, key=lambda s: s == "cold")  # hot before cold


def test_a_window_reaching_before_the_stored_history_is_refused(warehouse):
    """The day before LAST would need one more day of history: its first step would read as a
    quiet day. The message names the first day that can be classified and a shorter window."""
    with pytest.raises(ConfigurationError) as refused:
        classify_days(warehouse, REGISTRY, [LAST - timedelta(days=1), LAST], SETTINGS)
    message = str(refused.value)
    assert "before the first stored alert" in message
    assert f"Classify from {LAST} on" in message
    assert "HOTSPOT_TRENDS__STEPS=13" in message and "nothing was written" in message
    with pytest.raises(ConfigurationError, match="min_steps is 14"):
        classify_days(
            warehouse, REGISTRY, [LAST - timedelta(days=1)], TrendSettings(steps=14, min_steps=14)
        )


def test_days_without_any_stored_alert_are_refused(warehouse):
    with pytest.raises(ConfigurationError, match="no alerts stored up to"):
        classify_days(warehouse, REGISTRY, [DAYS[0] - timedelta(days=1)], SETTINGS)


def test_a_window_without_counted_feeds_is_refused(warehouse):
    cameras_only = TrendSettings(steps=14, min_steps=10, sources=("camera",))
    with pytest.raises(ConfigurationError, match="no camera alert stored in the window"):
        classify_days(warehouse, REGISTRY, [LAST], cameras_only)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-11-05", "2026-11-01", "is after --until"),
        ("2026-13-01", "2026-11-01", "not a day YYYY-MM-DD"),
        ("2024-01-01", "2026-01-01", "at most 366"),
    ],
)
def test_bad_day_ranges_are_refused_with_what_to_do(since, until, message):
    with pytest.raises(ConfigurationError, match=message):
        days_between(since, until)


def test_settings_refuse_a_window_shorter_than_the_minimum():
    with pytest.raises(ValueError, match="raise steps or lower min_steps"):
        TrendSettings(steps=8, min_steps=10)
    with pytest.raises(ValueError, match="trends.sources"):
        TrendSettings(sources=("radio",))
