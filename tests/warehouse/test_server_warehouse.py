"""The server backend (clickhouse-driver) against a real clickhouse-server process.

CI runs Debian's clickhouse-server 18.16, which lacks DateTime64, TTL, H3 and LowCardinality, so
these tests use test-only tables of the types it has; the production DDL is tested on chDB
(test_embedded_warehouse.py, test_rollups.py). Each test works in its own database.
"""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pytest

from pipeline.exceptions import WarehouseError, WarehouseUnavailable
from pipeline.kafka.embedded import free_port
from pipeline.warehouse import migrate, open_warehouse
from pipeline.warehouse.migrations import h3_settings
from pipeline.warehouse.server import ServerWarehouse

EVENTS_DDL = (
    "CREATE TABLE IF NOT EXISTS {db}.events (alert_id String, source String, "
    "event_time DateTime('UTC'), lat Float64, severity Float32, priority UInt8) "
    "ENGINE = ReplacingMergeTree ORDER BY alert_id"
)


@pytest.fixture
def server_wh(clickhouse_server):
    database = f"t_{uuid.uuid4().hex[:10]}"
    warehouse = open_warehouse(clickhouse_server.url(database))
    warehouse.execute(EVENTS_DDL.format(db=database))
    yield warehouse
    warehouse.execute(f"DROP DATABASE IF EXISTS {database}")
    warehouse.close()


def batch(ids: list[str]) -> dict[str, object]:
    n = len(ids)
    return {
        "alert_id": np.array(ids, dtype=object),
        "source": np.array(
            ["camera", "dispatch_110"] * (n // 2) + ["camera"] * (n % 2), dtype=object
        ),
        "event_time": np.arange(n, dtype=np.int64).astype("timedelta64[s]")
        + np.datetime64("2026-01-02T03:04:05"),
        "lat": np.linspace(31.2, 31.3, n),
        "severity": np.full(n, 0.5, np.float32),
        "priority": np.arange(n, dtype=np.uint8) % 3,
    }


def test_open_warehouse_by_url_reaches_the_server(clickhouse_server):
    with open_warehouse(clickhouse_server.url("hotspot_by_url")) as wh:
        assert isinstance(wh, ServerWarehouse) and wh.database == "hotspot_by_url"
        assert wh.query("SELECT version()")[0][0].count(".") >= 2
        assert wh.query("SELECT 1 + 1") == [(2,)]


def test_columnar_insert_round_trips_every_type(server_wh):
    db = server_wh.database
    server_wh.insert("events", batch(["a", "b", "c"]))
    got = server_wh.query_columns(
        f"SELECT alert_id, source, toUnixTimestamp(event_time) AS s, lat, severity, priority "
        f"FROM {db}.events ORDER BY alert_id"
    )
    t0 = 1767323045  # 2026-01-02T03:04:05Z
    assert got == {
        "alert_id": ["a", "b", "c"],
        "source": ["camera", "dispatch_110", "camera"],
        "s": [t0, t0 + 1, t0 + 2],
        "lat": [31.2, 31.25, 31.3],
        "severity": [0.5, 0.5, 0.5],
        "priority": [0, 1, 2],
    }


def test_arrow_columns_insert_as_their_values(server_wh):
    """The backfill gives text columns as Arrow arrays (dictionaries of codes, too)."""
    db = server_wh.database
    rows = batch(["a", "b", "c"])
    rows["alert_id"] = pa.array(["a", "b", "c"])
    rows["source"] = pa.DictionaryArray.from_arrays(
        pa.array(np.array([1, 0, 1], np.int32)), pa.array(["camera", "dispatch_110"])
    )
    server_wh.insert("events", rows)
    got = server_wh.query_columns(f"SELECT alert_id, source FROM {db}.events ORDER BY alert_id")
    assert got == {
        "alert_id": ["a", "b", "c"],
        "source": ["dispatch_110", "camera", "dispatch_110"],
    }


def test_the_same_batch_twice_reads_as_once(server_wh):
    db = server_wh.database
    server_wh.insert("events", batch(["a", "b", "c"]))
    once = server_wh.query(f"SELECT * FROM {db}.events FINAL ORDER BY alert_id")
    server_wh.insert("events", batch(["a", "b", "c"]))  # redelivered after a crash
    assert server_wh.query(f"SELECT * FROM {db}.events FINAL ORDER BY alert_id") == once
    assert server_wh.query(f"SELECT count() FROM {db}.events FINAL") == [(3,)]


def test_empty_insert_is_a_no_op(server_wh):
    server_wh.insert("events", batch([]))
    assert server_wh.query(f"SELECT count() FROM {server_wh.database}.events") == [(0,)]


@pytest.mark.parametrize(("sql", "code"), [("SELECT * FROM no_such_table", 60), ("SELEC 1", 62)])
def test_a_rejected_statement_is_a_warehouse_error_with_its_code(server_wh, sql, code):
    with pytest.raises(WarehouseError) as info:
        server_wh.query(sql)
    assert not isinstance(info.value, WarehouseUnavailable)
    assert info.value.code == code and "rejected the statement" in str(info.value)


def test_inserting_an_unknown_column_is_rejected_not_unavailable(server_wh):
    with pytest.raises(WarehouseError) as info:
        server_wh.insert("events", {"alert_id": ["x"], "no_such_column": [1]})
    assert not isinstance(info.value, WarehouseUnavailable) and info.value.code is not None


def test_a_server_nobody_runs_is_unavailable():
    with pytest.raises(WarehouseUnavailable, match=r"unreachable.*retried until it answers"):
        ServerWarehouse(f"clickhouse://127.0.0.1:{free_port()}/hotspot")


def test_migrate_records_each_file_once_on_the_server(server_wh, tmp_path):
    (tmp_path / "0001_a.sql").write_text(
        "-- test-only DDL that 18.16 understands\n"
        "CREATE TABLE IF NOT EXISTS {db}.a (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "INSERT INTO {db}.a SELECT 7;\n"
    )
    (tmp_path / "0002_b.sql").write_text(
        "CREATE VIEW IF NOT EXISTS {db}.b AS SELECT x + 1 AS y FROM {db}.a {h3_settings};\n"
    )
    db = server_wh.database
    assert migrate(server_wh, tmp_path) == ["0001_a.sql", "0002_b.sql"]
    assert migrate(server_wh, tmp_path) == []
    assert server_wh.query(f"SELECT y FROM {db}.b") == [(8,)]
    assert server_wh.query(f"SELECT name FROM {db}.schema_migrations ORDER BY name") == [
        ("0001_a.sql",),
        ("0002_b.sql",),
    ]


def test_h3_settings_pin_only_the_settings_the_server_has(server_wh):
    """18.16 has neither setting (nor H3): there the clause must be empty, or every statement
    carrying it would fail with UNKNOWN_SETTING."""
    known = {
        row[0]
        for row in server_wh.query(
            "SELECT name FROM system.settings "
            "WHERE name IN ('geotoh3_argument_order', 'h3togeo_lon_lat_result_order')"
        )
    }
    clause = h3_settings(server_wh)
    if not known:
        assert clause == ""
    else:
        assert clause.startswith("SETTINGS ") and all(name in clause for name in known)
    server_wh.query(f"SELECT 1 {clause}")  # accepted by this server


def test_the_client_reconnects_after_the_server_restarts(clickhouse_server, server_wh):
    db = server_wh.database
    server_wh.insert("events", batch(["a"]))
    clickhouse_server.kill()
    try:
        with pytest.raises(WarehouseUnavailable):
            server_wh.insert("events", batch(["b"]))
    finally:
        clickhouse_server.start()
    server_wh.insert("events", batch(["b"]))
    assert server_wh.query(f"SELECT alert_id FROM {db}.events FINAL ORDER BY alert_id") == [
        ("a",),
        ("b",),
    ]


def test_inline_insert_values_fail_fast_instead_of_hanging(server_wh):
    """Regression: over the native protocol 18.16 waited for data after ``VALUES (7)``."""
    with pytest.raises(WarehouseError, match="inline rows"):
        server_wh.execute(f"INSERT INTO {server_wh.database}.events (alert_id) VALUES ('x')")


def test_inserts_from_several_threads_at_once_all_land(server_wh):
    """Regression: the sink stages insert from several threads into one ServerWarehouse; the
    client refused simultaneous queries on its one connection."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda k: server_wh.insert("events", batch([f"{k}-{i}" for i in range(50)])),
                range(16),
            )
        )
    assert server_wh.query(f"SELECT uniqExact(alert_id) FROM {server_wh.database}.events") == [
        (800,)
    ]


def test_opening_waits_for_a_server_that_is_down_at_start_up(clickhouse_server):
    """What a worker does at start-up (jobs.runtime.open_runtime): the connection is retried
    under the retry policy until the server answers, instead of failing the worker."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.warehouse import RetryPolicy, call_with_retry, open_warehouse

    policy = RetryPolicy(initial_s=0.2, max_s=0.5, unavailable_attempts=200)
    clickhouse_server.kill()
    with ThreadPoolExecutor(1) as pool:
        opening = pool.submit(
            call_with_retry,
            lambda: open_warehouse(clickhouse_server.url("startup")),
            policy,
            "connection",
        )
        time.sleep(1.5)
        assert not opening.done(), "nothing answers yet: the opening must still be waiting"
        # started from this thread: the server dies with the thread that started it
        clickhouse_server.start()
        with opening.result(timeout=60) as wh:
            assert wh.query("SELECT 1") == [(1,)]


def test_tls_settings_reach_the_client_a_plain_port_then_refuses_the_handshake(
    clickhouse_server,
):
    """The test server has no TLS port: with warehouse_tls the client must try TLS on the
    plain port and fail as unreachable, which shows the setting reached the client."""
    from pipeline.settings import Settings

    url = clickhouse_server.url(f"t_{uuid.uuid4().hex[:10]}")
    with open_warehouse(Settings(warehouse_url=url).resolved_warehouse_url) as plain:
        assert plain.query("SELECT 1") == [(1,)]
    tls = Settings(warehouse_url=url, warehouse_tls=True, warehouse_tls_verify=False)
    with pytest.raises(WarehouseUnavailable, match="unreachable"):
        open_warehouse(tls.resolved_warehouse_url)
