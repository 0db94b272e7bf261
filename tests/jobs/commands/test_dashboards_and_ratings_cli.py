"""``hotspot ratings`` and ``hotspot dashboards`` from the command line, on a chDB warehouse."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from jobs.cli import app


@pytest.fixture
def env(tmp_path, city, monkeypatch):
    for name in ("HOTSPOT_SETTINGS_FILE", "HOTSPOT_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    return {"HOTSPOT_DATA_DIR": str(tmp_path / "data"), "HOTSPOT_REGISTRY_PATH": str(city.registry)}


def _month(city) -> str:
    return json.loads(city.truth.read_text())["config"]["start"][:7]


def test_ratings_then_preview_every_panel(env, city):
    runner = CliRunner()
    loaded = runner.invoke(
        app, ["backfill", str(city.replay), "--no-correlate", "--no-progress"], env=env
    )
    assert loaded.exit_code == 0, loaded.output
    rated = runner.invoke(app, ["ratings", "--month", _month(city)], env=env)
    assert rated.exit_code == 0, rated.output
    assert "453 ratings written" in rated.output  # every compound of the simulated city
    summary = next(line for line in rated.output.splitlines() if line.startswith(_month(city)))
    month, green, yellow, red, red_twice, rectified = summary.split()
    assert month == _month(city) and int(green) + int(yellow) + int(red) == 453
    # the month before holds no alert (all green), so no compound is two months red or yellow
    assert (red_twice, rectified) == ("0", "0")
    assert (
        rated.output.splitlines()[-1]
        == f"companies with compounds under rectification in {month}: 0"
    )

    report = runner.invoke(app, ["report", "ratings", "--month", month], env=env)
    assert report.exit_code == 0, report.output
    rows = [line for line in report.output.splitlines() if re.match(r"│ D\d\dS\d\d ", line)]
    streets = {
        f["properties"]["code"]
        for f in json.loads(city.registry.read_text())["features"]
        if f["properties"]["level"] == "street"
    }
    assert {row.split()[1] for row in rows} == streets  # a row per street office, named
    assert sum(int(row.split("│")[3]) for row in rows) == 453
    assert f"no compound under rectification in {month}" in report.output

    start = json.loads(city.truth.read_text())["config"]["start"]
    shown = runner.invoke(
        app,
        ["dashboards", "preview", "--from", start, "--to", f"{start[:10]}T23:00:00+00:00"],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    assert "FAIL" not in shown.output
    assert "hotspot-compounds / Ratings, latest month in range [A]: 453 rows" in shown.output


def test_ratings_needs_one_way_to_name_months(env):
    result = CliRunner().invoke(
        app, ["ratings", "--month", "2026-11", "--from", "2026-10"], env=env
    )
    assert result.exit_code == 2 and "either --month" in result.output


def test_build_check_passes_on_the_committed_files():
    result = CliRunner().invoke(app, ["dashboards", "build", "--check"])
    assert result.exit_code == 0 and "current" in result.output
