"""Per-cell per-minute counts and admin-unit hourly rollups (migrations 0007, 0008) on chDB.

They are fed by materialized views on ``alerts``; the property that matters is that they read
the same however often, in whatever batches, an alert was inserted (at-least-once delivery),
and that they equal counting the alerts table itself.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.migrations import SCHEMA_DIR
from pipeline.warehouse.rows import alert_rows

from .sample_alerts import CATEGORIES, DAY_MS, GRIDS, SOURCES, alert, sample

CELL_COUNTS = (
    "SELECT toUnixTimestamp(minute) AS m, cell, source, category, grid_code, alerts, "
    "max_severity FROM hotspot.cell_minute_counts ORDER BY m, cell, source, category, "
    "grid_code"
)
UNIT_COUNTS = (
    "SELECT toUnixTimestamp(hour) AS h, district_code, street_code, community_code, "
    "grid_code, station_id, source, category, alerts, max_severity, "
    "toUnixTimestamp64Milli(first_time) AS f, toUnixTimestamp64Milli(last_time) AS l "
    "FROM hotspot.unit_hour_counts ORDER BY ALL"
)
# the same numbers counted from the alerts table itself, at query time
CELL_REFERENCE = (
    "SELECT toUnixTimestamp(toStartOfMinute(toDateTime(event_time, 'UTC'))) AS m, "
    "geoToH3(lon, lat, 9) AS cell, source, category, grid_code, count() AS alerts, "
    "max(severity) FROM hotspot.alerts FINAL "
    "GROUP BY m, cell, source, category, grid_code "
    "ORDER BY m, cell, source, category, grid_code "
    "SETTINGS geotoh3_argument_order = 'lon_lat'"
)


@pytest.fixture
def empty(tmp_path):
    """A migrated, empty warehouse (chDB holds one data directory per process at a time)."""
    warehouse = EmbeddedWarehouse(tmp_path / "chdb")
    migrate(warehouse)
    yield warehouse
    warehouse.close()


def test_counts_per_cell_and_minute_equal_counting_the_alerts(empty):
    empty.insert("alerts", alert_rows(sample()))
    got = empty.query(CELL_COUNTS)
    assert got == empty.query(CELL_REFERENCE)
    by_key = Counter()
    for m, _cell, source, category, grid, n, _ in got:
        by_key[(m - DAY_MS // 1000) // 60, source, category, grid] += n
    assert by_key == Counter(
        {
            (0, "camera", "fight", "C1G1"): 2,
            (0, "dispatch_110", "fight", "C1G1"): 1,
            (1, "camera", "intrusion", "C1G1"): 1,
            (61, "alarm_phone", "intrusion", "C2G2"): 1,
            (61, "grid_report", "dispute", "C1G2"): 1,
        }
    )
    fights = [r for r in got if r[2] == "camera" and r[3] == "fight"]
    assert max(r[6] for r in fights) == pytest.approx(0.9)


def test_h3_cells_are_computed_with_latitude_and_longitude_in_their_places(empty):
    """The cell of every alert must contain it: swapped arguments would put it ~10,000 km away
    (or fail: latitude 121 is out of range). The centre of a resolution-9 cell is within its
    circumradius (~0.2 km) of any point inside it."""
    empty.insert("alerts", alert_rows(sample()))
    rows = empty.query(
        "SELECT a.lat, a.lon, c.lat, c.lon, c.cell = geoToH3(a.lat, a.lon, 9) "
        "FROM (SELECT alert_id, lat, lon, geoToH3(lon, lat, 9) AS cell FROM hotspot.alerts FINAL "
        "      SETTINGS geotoh3_argument_order = 'lon_lat') AS a "
        "JOIN hotspot.cell_minute_counts AS c ON a.cell = c.cell "
        "SETTINGS geotoh3_argument_order = 'lat_lon'"
    )
    assert len(rows) >= len(sample())
    for lat, lon, clat, clon, same_cell in rows:
        assert same_cell == 1
        dy = (clat - lat) * 111_195
        dx = (clon - lon) * 111_195 * math.cos(math.radians(lat))
        assert math.hypot(dx, dy) < 250


def test_unit_hour_rollup_counts_every_level(empty):
    empty.insert("alerts", alert_rows(sample()))
    rows = empty.query_columns(UNIT_COUNTS)
    hours = [(h - DAY_MS // 1000) // 3600 for h in rows["h"]]
    assert sorted(set(hours)) == [0, 1]
    total = dict(
        empty.query(
            "SELECT community_code, sum(alerts) FROM hotspot.unit_hour_counts "
            "GROUP BY community_code"
        )
    )
    assert total == {"C1": 5, "C2": 1}
    first_hour_fights = empty.query(
        "SELECT sum(alerts), max(max_severity), min(first_time), max(last_time) "
        "FROM hotspot.unit_hour_counts WHERE category = 'fight'"
    )[0]
    assert first_hour_fights[0] == 3 and first_hour_fights[1] == pytest.approx(1.0)
    assert first_hour_fights[3].timestamp() - first_hour_fights[2].timestamp() == 30


def test_re_inserting_batches_changes_no_rollup(empty):
    empty.insert("alerts", alert_rows(sample()))
    once = (empty.query(CELL_COUNTS), empty.query(UNIT_COUNTS))
    empty.insert("alerts", alert_rows(sample()))  # the whole batch again, after a crash
    empty.insert("alerts", alert_rows(sample()[2:4]))  # and part of it once more
    assert (empty.query(CELL_COUNTS), empty.query(UNIT_COUNTS)) == once
    for table in ("alerts", "cell_minute_states", "unit_hour_states"):
        empty.execute(f"OPTIMIZE TABLE hotspot.{table} FINAL")  # merged or not, the same
    assert (empty.query(CELL_COUNTS), empty.query(UNIT_COUNTS)) == once


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    alerts=st.lists(
        st.tuples(
            st.integers(0, 180),
            st.sampled_from(sorted(GRIDS)),
            st.sampled_from(SOURCES),
            st.sampled_from(CATEGORIES),
            st.floats(0, 1, width=32),
        ),
        min_size=1,
        max_size=40,
    ),
    data=st.data(),
)
def test_any_redelivery_of_any_batches_reads_as_each_alert_once(empty, alerts, data):
    """Alerts delivered in arbitrary batches, each batch possibly repeated, with arbitrary
    extra copies of single alerts: every rollup equals the one of inserting each alert once."""
    for table in ("alerts", "cell_minute_states", "unit_hour_states"):
        empty.execute(f"TRUNCATE TABLE hotspot.{table}")
    envelopes = [alert(i, *fields) for i, fields in enumerate(alerts)]
    cuts = sorted(data.draw(st.sets(st.integers(1, len(envelopes)), max_size=4)) | {len(envelopes)})
    start = 0
    for cut in cuts:
        batch = envelopes[start:cut]
        for _ in range(data.draw(st.integers(1, 3), label="copies of the batch")):
            empty.insert("alerts", alert_rows(batch))
        start = cut
    extra = data.draw(st.lists(st.sampled_from(envelopes), max_size=5), label="redelivered")
    if extra:
        empty.insert("alerts", alert_rows(extra))
    cell_counts = empty.query(CELL_COUNTS)
    assert cell_counts == empty.query(CELL_REFERENCE)
    assert sum(row[5] for row in cell_counts) == len(envelopes)
    unit_total = empty.query("SELECT sum(alerts) FROM hotspot.unit_hour_counts")[0][0]
    assert unit_total == len(envelopes)


def test_alerts_stored_before_the_rollups_existed_are_back_filled(tmp_path):
    """A warehouse migrated before 0007/0008 keeps its history in the new rollups."""
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(SCHEMA_DIR.glob("*.sql")):
        if path.name < "0007":
            shutil.copy(path, old / path.name)
    with EmbeddedWarehouse(tmp_path / "chdb") as wh:
        migrate(wh, old)
        wh.insert("alerts", alert_rows(sample()))
        for name in ("0007_cell_minute_counts.sql", "0008_unit_hour_rollups.sql"):
            shutil.copy(SCHEMA_DIR / name, old / name)
        assert migrate(wh, old) == ["0007_cell_minute_counts.sql", "0008_unit_hour_rollups.sql"]
        assert wh.query(CELL_COUNTS) == wh.query(CELL_REFERENCE)
        assert wh.query("SELECT sum(alerts) FROM hotspot.unit_hour_counts") == [(len(sample()),)]
        wh.insert("alerts", alert_rows(sample()))  # live inserts overlapping the back-fill
        assert wh.query("SELECT sum(alerts) FROM hotspot.cell_minute_counts") == [(len(sample()),)]
