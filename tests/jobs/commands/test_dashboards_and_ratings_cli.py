"""``hotspot ratings`` and ``hotspot dashboards`` from the command line, on a chDB warehouse."""

from __future__ import annotations

import json

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
    month, green, yellow, red, red_twice = rated.output.splitlines()[-1].split()
    assert month == _month(city) and int(green) + int(yellow) + int(red) == 453

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
