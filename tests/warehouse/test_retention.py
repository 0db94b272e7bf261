"""Retention as a setting: the tables' TTLs follow ``Settings.retention`` on real chDB."""

from __future__ import annotations

import msgspec
import pytest

from pipeline.exceptions import WarehouseError
from pipeline.settings import Retention, Settings
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.retention import KEPT, apply_retention, current_days
from pipeline.warehouse.rows import alert_rows

from .sample_alerts import DAY_MS, alert

DAY = 86_400_000


@pytest.fixture
def wh(tmp_path):
    warehouse = EmbeddedWarehouse(tmp_path / "chdb")
    migrate(warehouse)
    yield warehouse
    warehouse.close()


def test_the_default_settings_are_what_the_schema_creates(wh):
    """Upgrading changes nothing: the settings' defaults equal the DDL's TTLs."""
    assert apply_retention(wh, Retention()) == []
    assert {k.table: current_days(wh, k.table) for k in KEPT} == {
        "alerts": 400,
        "cell_minute_states": 730,
        "unit_hour_states": 730,
        "deadletters": 90,
        "incidents": 0,
        "flags": 0,
        "notice_events": 400,
    }


def test_a_changed_setting_alters_the_ttl_once(wh):
    kept = Retention(alerts=30, deadletters=0, flags=10)
    changes = migrate(wh, retention=kept)
    assert changes == [
        "retention alerts: 400 days -> 30 days",
        "retention deadletters: 90 days -> for ever",
        "retention flags: for ever -> 10 days",
    ]
    assert current_days(wh, "alerts") == 30
    assert current_days(wh, "deadletters") == 0
    assert current_days(wh, "flags") == 10
    assert migrate(wh, retention=kept) == []  # applied: the next start changes nothing
    assert migrate(wh) == []  # None leaves the TTLs as they are
    assert current_days(wh, "alerts") == 30


def _stored_ids(wh) -> set[str]:
    wh.execute(f"OPTIMIZE TABLE {wh.database}.alerts FINAL")  # a merge applies the TTL
    return {row[0] for row in wh.query(f"SELECT alert_id FROM {wh.database}.alerts")}


def test_rows_older_than_the_retention_are_dropped_and_kept_for_ever_with_zero(wh):
    recent = alert(1, 0, "C1G1", "camera", "fight")
    old = msgspec.structs.replace(
        alert(2, 0, "C1G1", "camera", "fight"), event_ms=DAY_MS - 40 * DAY
    )
    ancient = msgspec.structs.replace(
        alert(3, 0, "C1G1", "camera", "fight"), event_ms=DAY_MS - 500 * DAY
    )
    wh.insert("alerts", alert_rows([recent, old, ancient]))
    assert _stored_ids(wh) == {"camera:1", "camera:2"}  # the default 400 days

    apply_retention(wh, Retention(alerts=30))
    assert _stored_ids(wh) == {"camera:1"}

    apply_retention(wh, Retention(alerts=0))
    wh.insert("alerts", alert_rows([ancient]))
    assert _stored_ids(wh) == {"camera:1", "camera:3"}


def test_retention_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOTSPOT_RETENTION__ALERTS", "1200")
    monkeypatch.setenv("HOTSPOT_RETENTION__FLAGS", "365")
    kept = Settings().retention
    assert (kept.alerts, kept.flags, kept.deadletters) == (1200, 365, 90)
    assert KEPT[0].variable == "HOTSPOT_RETENTION__ALERTS"


def test_a_negative_retention_is_refused(monkeypatch):
    monkeypatch.setenv("HOTSPOT_RETENTION__ALERTS", "-1")
    with pytest.raises(ValueError, match="retention.alerts"):
        Settings()


def test_a_missing_table_says_to_run_the_migrations(tmp_path):
    warehouse = EmbeddedWarehouse(tmp_path / "unmigrated")
    try:
        with pytest.raises(WarehouseError, match="run the migrations first"):
            current_days(warehouse, "alerts")
    finally:
        warehouse.close()
