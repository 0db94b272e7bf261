"""Every production table on chDB: the same batches written twice (a worker that crashed after
writing and before committing its offsets) leave every query result as after writing them once,
before and after background merges; flags keep their latest version whatever the order.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from jobs.runtime import store_admin_units
from pipeline.deadletter import DeadLetter, Reason
from pipeline.geo.admin_units import load_registry
from pipeline.outputs import FlagMessage, IncidentMessage
from pipeline.patrol import AckRecord, NoticeBook, PatrolParams
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.rows import (
    alert_rows,
    deadletter_rows,
    flag_rows,
    incident_rows,
    notice_event_rows,
)
from tests.tiny_city import tiny_city

from .sample_alerts import sample

T_MS = int(time.time() // 86_400 * 86_400_000) + 123

#: one query per table or view, reading it the way dashboards do (FINAL for replacing tables);
#: columns stamped with the wall clock at write time are left out
SNAPSHOTS = {
    "alerts": "SELECT * EXCEPT ingest_time FROM hotspot.alerts FINAL ORDER BY alert_id",
    "cell_minute_counts": "SELECT * FROM hotspot.cell_minute_counts ORDER BY ALL",
    "unit_hour_counts": "SELECT * FROM hotspot.unit_hour_counts ORDER BY ALL",
    "incidents": "SELECT * FROM hotspot.incidents FINAL ORDER BY incident_id",
    "flags": "SELECT * FROM hotspot.flags FINAL ORDER BY flag_id",
    "deadletters": "SELECT * FROM hotspot.deadletters FINAL ORDER BY ALL",
    "admin_units": "SELECT * EXCEPT loaded_at FROM hotspot.admin_units FINAL ORDER BY ALL",
    "notice_events": "SELECT * FROM hotspot.notice_events FINAL ORDER BY event_id",
    "notices": "SELECT * FROM hotspot.notices ORDER BY notice_id",
    "false_alarms_by_cell": "SELECT * FROM hotspot.false_alarms_by_cell ORDER BY cell_id",
}


def incident(n: int) -> IncidentMessage:
    return IncidentMessage(
        incident_id=f"inc-{n}",
        first_event_ms=T_MS,
        last_event_ms=T_MS + 60_000,
        boundary_ms=T_MS + 120_000,
        lat=31.2025,
        lon=121.4025,
        n_alerts=3,
        n_sources=2,
        source_counts={"camera": 2, "dispatch_110": 1},
        category_counts={"fight": 3},
        max_severity=1.0,
        grid=0,
        grid_code="C1G1",
        community_code="C1",
        street_code="S1",
        district_code="D1",
        station_id="PS1",
    )


def flag(version: int, status: str = "update") -> FlagMessage:
    return FlagMessage(
        flag_id="flg-1",
        version=version,
        status=status,
        boundary_ms=T_MS + version * 60_000,
        opened_ms=T_MS,
        lat=31.2025,
        lon=121.4025,
        radius_m=300.0,
        window_s=1800,
        cell_id=42,
        score=5.0 + version,
        p_value=0.001,
        gi_z=None if version == 1 else 3.5,
        observed=8 + version,
        expected=1.5,
        n_sources=2,
        source_counts={"camera": 8},
        category_counts={"fight": 8},
        grid=0,
        first_event_ms=T_MS,
        last_event_ms=None,
        grid_code="C1G1",
        community_code="C1",
        street_code="S1",
        district_code="D1",
        station_id="PS1",
    )


def letter(offset: int) -> DeadLetter:
    return DeadLetter(
        reason=Reason.MISSING_FIELD,
        detail="missing `kind`",
        source="camera",
        topic="alerts.camera",
        partition=0,
        offset=offset,
        received_ms=T_MS,
        payload_sealed="sealed",
    )


def notice_events() -> list:
    """A notice of :func:`flag` (issued a minute after T_MS) reminded 5 minutes on, then
    called a false alarm 7 minutes after its issue."""
    book = NoticeBook(0, PatrolParams())
    events = book.flags([flag(1, "open")])
    events += book.due(T_MS + 7 * 60_000)
    ack = AckRecord(
        events[0].notice_id, "PS1", "false_alarm", T_MS + 8 * 60_000, "pseud", "drill", "a/0/0"
    )
    return [*events, book.apply(ack)]


@pytest.fixture
def wh(tmp_path):
    warehouse = EmbeddedWarehouse(tmp_path / "chdb")
    migrate(warehouse)
    yield warehouse
    warehouse.close()


def write_everything(wh, registry) -> None:
    wh.insert("alerts", alert_rows(sample()))
    wh.insert("incidents", incident_rows([incident(1), incident(2)]))
    wh.insert("flags", flag_rows([flag(1, "open"), flag(2)]))
    wh.insert("deadletters", deadletter_rows([letter(7), letter(8)]))
    wh.insert("notice_events", notice_event_rows(notice_events()))
    store_admin_units(registry, wh)


def snapshot(wh) -> dict[str, list]:
    return {name: wh.query(sql) for name, sql in SNAPSHOTS.items()}


def test_writing_every_table_twice_reads_as_once(wh):
    registry = load_registry(tiny_city())
    write_everything(wh, registry)
    once = snapshot(wh)
    assert all(once.values()), f"empty tables: {[k for k, v in once.items() if not v]}"
    write_everything(wh, registry)  # the redelivered batches
    assert snapshot(wh) == once
    for table in (
        "alerts",
        "cell_minute_states",
        "unit_hour_states",
        "incidents",
        "flags",
        "deadletters",
        "admin_units",
        "notice_events",
    ):
        wh.execute(f"OPTIMIZE TABLE hotspot.{table} FINAL")
    assert snapshot(wh) == once
    assert wh.query("SELECT count() FROM hotspot.admin_units") == [
        (len(registry.units_table()["code"]),)
    ]


def test_a_redelivered_old_flag_version_does_not_win(wh):
    wh.insert("flags", flag_rows([flag(1, "open"), flag(2), flag(3, "close")]))
    wh.insert("flags", flag_rows([flag(1, "open")]))  # version 1 arrives again, last
    assert wh.query("SELECT version, status FROM hotspot.flags FINAL") == [(3, "close")]
    got = wh.query("SELECT argMax(status, version), max(version) FROM hotspot.flags")
    assert got == [("close", 3)]


def test_admin_units_are_stored_with_every_level_and_parent(wh):
    registry = load_registry(tiny_city())
    # a district, a street, a station, 2 communities, 4 cells
    assert store_admin_units(registry, wh) == 9
    levels = dict(wh.query("SELECT level, count() FROM hotspot.admin_units FINAL GROUP BY level"))
    assert levels == {"district": 1, "street": 1, "station": 1, "community": 2, "grid": 4}
    parents = dict(
        wh.query(
            "SELECT code, parent FROM hotspot.admin_units FINAL "
            "WHERE level IN ('grid', 'community')"
        )
    )
    assert parents == {
        "C1": "S1",
        "C2": "S1",
        "C1G1": "C1",
        "C1G2": "C1",
        "C2G1": "C2",
        "C2G2": "C2",
    }
    area = wh.query("SELECT area_km2 FROM hotspot.admin_units FINAL WHERE code = 'C1G1'")[0][0]
    np.testing.assert_allclose(area, 0.555 * 0.476, rtol=0.05)  # 0.005° x 0.005° at 31.2° N


def test_notice_events_are_stored_and_read_as_notices_and_false_alarms_per_cell(wh):
    wh.insert("notice_events", notice_event_rows(notice_events()))
    kinds = wh.query(
        "SELECT kind, state, unit, officer, reason, receipt_s, late "
        "FROM hotspot.notice_events FINAL ORDER BY event_id"
    )
    assert kinds == [
        ("issued", "issued", "", "", "", None, 0),
        ("reminder", "issued", "", "", "", None, 0),
        ("false_alarm", "false_alarm", "PS1", "pseud", "drill", 420.0, 0),
    ]
    (notice,) = wh.query(
        "SELECT station_id, last_state, receipt_seconds, reminded, escalated, arrived_time "
        "FROM hotspot.notices"
    )
    assert notice == ("PS1", "false_alarm", 420.0, 1, 0, None)
    assert wh.query(
        "SELECT cell_id, grid_code, false_alarms, reasons FROM hotspot.false_alarms_by_cell"
    ) == [(42, "C1G1", 1, ["drill"])]
