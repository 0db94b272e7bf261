"""``hotspot trends`` from the command line on a chDB warehouse holding a constructed two-week
history: it writes and prints the day's patterns; a day whose window reaches before the history
is refused in one message, and nothing is written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from pipeline.warehouse import migrate, open_warehouse
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.rows import alert_rows
from tests.trends.history import GEOJSON, LAST, N, alerts, constructed_counts


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("trends-cli")
    (root / "registry.geojson").write_text(json.dumps(GEOJSON))
    wh = EmbeddedWarehouse(root / "data" / "warehouse")
    migrate(wh)
    wh.insert("alerts", alert_rows(alerts(constructed_counts())))
    wh.close()  # chDB: one directory per process; the command opens it next
    return {
        "HOTSPOT_DATA_DIR": str(root / "data"),
        "HOTSPOT_REGISTRY_PATH": str(root / "registry.geojson"),
        "HOTSPOT_TRENDS__STEPS": "14",
    }


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("HOTSPOT_SETTINGS_FILE", "HOTSPOT_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_trends_writes_the_day_and_lists_the_patterned_cells(env):
    result = CliRunner().invoke(app, ["trends", "--until", str(LAST)], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{N} cell trends stored: {N} grid cells x 1 days")
    summary = next(line for line in lines if line.startswith(f"{LAST}:"))
    assert "new hot spot" in summary and "persistent hot spot" in summary
    assert "historical hot spot" in summary
    listed = {line.split("│")[1].strip(): line for line in lines if line.startswith("│ G-")}
    assert "new hot spot" in listed["G-001-001"]
    assert "persistent hot spot" in listed["G-001-006"]
    assert "historical hot spot" in listed["G-007-006"]


def test_a_day_without_enough_history_is_refused_and_nothing_is_written(env):
    day = LAST - timedelta(days=1)
    result = CliRunner().invoke(app, ["trends", "--since", str(day)], env=env)
    assert result.exit_code != 0
    assert "before the first stored alert" in str(result.exception)
    url = f"chdb://{env['HOTSPOT_DATA_DIR']}/warehouse"
    with open_warehouse(url) as wh:
        assert wh.query(f"SELECT count() FROM hotspot.cell_trends WHERE day = '{day}'") == [(0,)]
