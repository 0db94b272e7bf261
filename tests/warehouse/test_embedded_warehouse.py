"""The embedded warehouse (chDB): migrations, inserts, idempotent re-inserts, error codes.

chDB allows one open data directory per process, so each test opens and closes its own.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.deadletter import DeadLetter, Reason
from pipeline.envelope import NormalizedAlert
from pipeline.exceptions import ConfigurationError, WarehouseError
from pipeline.warehouse import migrate, open_warehouse
from pipeline.warehouse.embedded import EmbeddedWarehouse, _map_array
from pipeline.warehouse.migrations import SCHEMA_DIR, split_statements
from pipeline.warehouse.rows import alert_rows, deadletter_rows

# Recent on purpose: the alerts table's TTL (400 days of event time) drops older rows on insert.
# Start of today (UTC) plus 123 ms, so the value is stable within a day.
T_MS = int(time.time() // 86_400 * 86_400_000) + 123


@pytest.fixture
def wh(tmp_path):
    warehouse = EmbeddedWarehouse(tmp_path / "chdb")
    yield warehouse
    warehouse.close()


@pytest.fixture
def schema_dir(tmp_path):
    """A private copy of the migrations, so a test may edit or add files."""
    target = tmp_path / "migrations"
    shutil.copytree(SCHEMA_DIR, target)
    return target


def envelopes() -> list[NormalizedAlert]:
    return [
        NormalizedAlert(
            alert_id="camera:a1",
            source="camera",
            source_id="a1",
            event_ms=T_MS,
            lat=31.2031,
            lon=121.4012,
            category="fight",
            severity=0.45,
            tile="0:0",
            grid="C1G1",
            community="C1",
            street="S1",
            district="D1",
            station_id="PS1",
            camera_id="cam-1",
            confidence=0.5,
        ),
        NormalizedAlert(
            alert_id="dispatch_110:i1",
            source="dispatch_110",
            source_id="i1",
            event_ms=T_MS + 1,
            lat=31.2071,
            lon=121.4071,
            category="assault",
            severity=1.0,
            tile="1:0",
            caller="ab" * 16,
            priority=1,
        ),
        NormalizedAlert(
            alert_id="grid_report:r2",
            source="grid_report",
            source_id="r2",
            event_ms=T_MS - 3_600_000 * 24 * 40,
            lat=31.2,
            lon=121.4,
            category="dispute",
            severity=0.0,
            tile="0:0",
            status="resolved",
            reporter_id="w1",
            report_ref="r1",
        ),
    ]


def test_migrate_applies_every_file_once_and_records_it(wh, schema_dir):
    names = sorted(p.name for p in schema_dir.glob("*.sql"))
    assert names[:6] == [
        "0001_alerts.sql",
        "0002_deadletters.sql",
        "0003_incidents.sql",
        "0004_flags.sql",
        "0005_admin_units.sql",
        "0006_flag_scale.sql",
    ]
    assert migrate(wh, schema_dir) == names
    recorded = wh.query("SELECT name FROM hotspot.schema_migrations ORDER BY name")
    assert [r[0] for r in recorded] == names
    assert migrate(wh, schema_dir) == []
    assert wh.query("SELECT count() FROM hotspot.schema_migrations") == [(len(names),)]
    tables = {r[0] for r in wh.query("SELECT name FROM system.tables WHERE database = 'hotspot'")}
    assert {"alerts", "deadletters", "incidents", "flags", "schema_migrations"} <= tables


def test_a_new_migration_file_is_applied_alone(wh, schema_dir):
    migrate(wh, schema_dir)
    (schema_dir / "9999_extra.sql").write_text(
        "-- a comment line\nCREATE TABLE IF NOT EXISTS {db}.extra (x UInt8) ENGINE = Memory;\n"
        "INSERT INTO {db}.extra VALUES (7);\n"
    )
    assert migrate(wh, schema_dir) == ["9999_extra.sql"]
    assert wh.query("SELECT x FROM hotspot.extra") == [(7,)]


def test_editing_an_applied_migration_raises(wh, schema_dir):
    migrate(wh, schema_dir)
    path = schema_dir / "0002_deadletters.sql"
    path.write_text(path.read_text() + "\n-- edited\n")
    with pytest.raises(WarehouseError, match="0002_deadletters.sql changed after it was applied"):
        migrate(wh, schema_dir)


def test_split_statements_drops_comments_and_empty_statements():
    sql = "-- header\nCREATE TABLE a (x UInt8);\n\n;\nINSERT INTO a VALUES (1);\n"
    assert split_statements(sql) == ["CREATE TABLE a (x UInt8)", "INSERT INTO a VALUES (1);"]


def test_insert_and_query_round_trip(wh):
    migrate(wh)
    rows = alert_rows(envelopes())
    wh.insert("alerts", rows)
    got = wh.query_columns(
        "SELECT alert_id, source, toUnixTimestamp64Milli(event_time) AS ms, lat, lon, category, "
        "severity, grid_code, station_id, caller, priority, camera_id, confidence, status, "
        "report_ref FROM hotspot.alerts FINAL ORDER BY alert_id"
    )
    assert got["alert_id"] == ["camera:a1", "dispatch_110:i1", "grid_report:r2"]
    assert got["source"] == ["camera", "dispatch_110", "grid_report"]
    assert got["ms"] == [T_MS, T_MS + 1, T_MS - 3_600_000 * 24 * 40]
    assert got["lat"] == [31.2031, 31.2071, 31.2] and got["lon"] == [121.4012, 121.4071, 121.4]
    assert got["category"] == ["fight", "assault", "dispute"]
    np.testing.assert_allclose(got["severity"], [0.45, 1.0, 0.0], rtol=1e-6)
    assert got["grid_code"] == ["C1G1", "", ""] and got["station_id"] == ["PS1", "", ""]
    assert got["caller"] == ["", "ab" * 16, ""] and got["priority"] == [0, 1, 0]
    assert got["camera_id"] == ["cam-1", "", ""] and got["confidence"] == [0.5, 0.0, 0.0]
    assert got["status"] == ["", "", "resolved"] and got["report_ref"] == ["", "", "r1"]


def test_arrow_columns_read_back_as_the_same_rows(wh):
    """Text columns given as Arrow arrays (dictionaries of codes for LowCardinality columns, as
    the backfill writes them) store exactly what the equivalent object arrays store."""
    migrate(wh)
    rows = alert_rows(envelopes())
    arrow = dict(rows)
    arrow["alert_id"] = pa.array(["camera:b1", "dispatch_110:j1", "grid_report:s2"])
    codes, names = np.unique(rows["source"].astype(str), return_inverse=True)
    arrow["source"] = pa.DictionaryArray.from_arrays(
        pa.array(names.astype(np.int32)), pa.array(codes)
    )
    arrow["grid_code"] = pa.DictionaryArray.from_arrays(
        pa.array(np.array([1, 0, 0], np.int32)), pa.array(["", "C1G1", "unused"])
    )
    wh.insert("alerts", rows)
    wh.insert("alerts", arrow)
    got = wh.query("SELECT alert_id, source, grid_code FROM hotspot.alerts FINAL ORDER BY alert_id")
    assert got == [
        ("camera:a1", "camera", "C1G1"),
        ("camera:b1", "camera", "C1G1"),
        ("dispatch_110:i1", "dispatch_110", ""),
        ("dispatch_110:j1", "dispatch_110", ""),
        ("grid_report:r2", "grid_report", ""),
        ("grid_report:s2", "grid_report", ""),
    ]


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["camera", "110", "theft", "crowd", ""]), st.integers(1, 99)
        )
    )
)
def test_counts_by_name_become_the_map_that_converting_each_dict_gives(counts):
    # the flat conversion keeps every row's keys in dict order, empty rows included
    per_row = pa.array([list(d.items()) for d in counts], pa.map_(pa.string(), pa.int64()))
    assert _map_array(counts).equals(per_row)


def test_counts_by_name_read_back_as_the_same_maps(wh):
    migrate(wh)
    counts = [{"camera": 2, "110": 1}, {}, {"theft": 3}]
    wh.insert(
        "flags",
        {
            "flag_id": ["a", "b", "c"],
            "version": [1, 1, 1],
            "boundary_time": np.full(3, T_MS, np.int64).astype("datetime64[ms]"),
            "source_counts": counts,
        },
    )
    rows = wh.query("SELECT flag_id, source_counts FROM hotspot.flags FINAL ORDER BY flag_id")
    assert [dict(r[1]) for r in rows] == counts


def test_inserting_the_same_batch_twice_is_idempotent(wh):
    migrate(wh)
    wh.insert("alerts", alert_rows(envelopes()))
    wh.insert("alerts", alert_rows(envelopes()))  # a redelivered batch after a crash
    assert wh.query("SELECT count() FROM hotspot.alerts FINAL") == [(3,)]
    assert wh.query("SELECT count() FROM hotspot.alerts") in ([(3,)], [(6,)])  # before merge
    wh.insert("alerts", alert_rows(envelopes()[:1]))
    assert wh.query("SELECT count() FROM hotspot.alerts FINAL") == [(3,)]


def test_an_insert_with_distinct_keys_stores_the_same_rows_and_rollups(tmp_path):
    """``distinct_keys`` (optimize_on_insert=0 on chDB) changes the work, not the result: the
    alerts, both rollups and their counts read back as after a plain insert."""
    from tests.warehouse.sample_alerts import sample

    def stored(folder, distinct_keys):
        with EmbeddedWarehouse(tmp_path / folder) as warehouse:
            migrate(warehouse)
            warehouse.insert("alerts", alert_rows(sample()), distinct_keys=distinct_keys)
            return [
                warehouse.query(sql)
                for sql in (
                    "SELECT * EXCEPT ingest_time FROM hotspot.alerts ORDER BY alert_id",
                    "SELECT * FROM hotspot.cell_minute_counts ORDER BY ALL",
                    "SELECT * FROM hotspot.unit_hour_counts ORDER BY ALL",
                )
            ]

    plain, distinct = stored("plain", False), stored("distinct", True)
    assert len(plain[0]) == len(sample()) and plain[1] and plain[2]
    assert distinct == plain


def test_dead_letters_collapse_on_their_kafka_coordinates(wh):
    migrate(wh)
    letter = DeadLetter(
        reason=Reason.MISSING_FIELD,
        detail="Object missing required field `kind`",
        source="camera",
        topic="alerts.camera",
        partition=1,
        offset=42,
        received_ms=T_MS,
        payload_sealed="token",
    )
    wh.insert("deadletters", deadletter_rows([letter]))
    wh.insert("deadletters", deadletter_rows([letter]))
    got = wh.query("SELECT topic, partition, offset, reason FROM hotspot.deadletters FINAL")
    assert got == [("alerts.camera", 1, 42, "missing_field")]


def test_late_alerts_of_one_record_keep_a_dead_letter_each(wh, schema_dir):
    """An alerts.normalized record holds many alerts: same coordinates, other alert ids. The
    migration that keys dead letters by alert id also keeps the rows written before it."""
    (schema_dir / "0012_deadletters_keyed_by_alert.sql").rename(schema_dir / "later.sql.off")
    migrate(wh, schema_dir)

    def letter(alert_id: str) -> DeadLetter:
        return DeadLetter(
            reason=Reason.LATE,
            detail="behind the watermark",
            source="camera",
            topic="alerts.normalized",
            partition=2,
            offset=7,
            received_ms=T_MS,
            payload_sealed="token",
            alert_id=alert_id,
        )

    wh.insert("deadletters", deadletter_rows([letter("camera:old")]))
    (schema_dir / "later.sql.off").rename(schema_dir / "0012_deadletters_keyed_by_alert.sql")
    assert migrate(wh, schema_dir) == ["0012_deadletters_keyed_by_alert.sql"]
    wh.insert("deadletters", deadletter_rows([letter("camera:a"), letter("camera:b")]))
    wh.insert("deadletters", deadletter_rows([letter("camera:a")]))  # redelivered: one row
    got = wh.query("SELECT alert_id FROM hotspot.deadletters FINAL ORDER BY alert_id")
    assert got == [("camera:a",), ("camera:b",), ("camera:old",)]


def test_empty_insert_is_a_no_op(wh):
    migrate(wh)
    wh.insert("alerts", alert_rows([]))
    assert wh.query("SELECT count() FROM hotspot.alerts") == [(0,)]


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT * FROM hotspot.no_such_table", 60),  # UNKNOWN_TABLE
        ("SELEC 1", 62),  # SYNTAX_ERROR
        ("SELECT no_such_function(1)", 46),  # UNKNOWN_FUNCTION
    ],
)
def test_warehouse_error_carries_the_clickhouse_code(wh, sql, code):
    with pytest.raises(WarehouseError) as info:
        wh.query(sql)
    assert info.value.code == code
    assert f"Code: {code}" in str(info.value)


def test_insert_into_a_missing_column_raises_with_a_code(wh):
    migrate(wh)
    with pytest.raises(WarehouseError) as info:
        wh.insert("alerts", {"alert_id": ["x"], "no_such_column": [1]})
    assert info.value.code is not None


def test_open_warehouse_by_url(tmp_path):
    with open_warehouse(f"chdb://{tmp_path / 'wh'}") as wh:
        assert isinstance(wh, EmbeddedWarehouse) and wh.database == "hotspot"
        assert wh.query("SELECT 1 + 1") == [(2,)]
    with pytest.raises(ConfigurationError, match="not understood"):
        open_warehouse("postgres://x/y")


def test_data_survive_reopening_the_directory(tmp_path):
    path = tmp_path / "wh"
    with EmbeddedWarehouse(path) as wh:
        migrate(wh)
        wh.insert("alerts", alert_rows(envelopes()))
    with EmbeddedWarehouse(path) as wh:
        assert migrate(wh) == []
        assert wh.query("SELECT count() FROM hotspot.alerts FINAL") == [(3,)]
