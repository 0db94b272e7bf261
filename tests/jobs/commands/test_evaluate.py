"""``hotspot evaluate`` on a small simulated city: a day of history and an evening with one
strong planted hotspot."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from pipeline.evaluate import evaluate_replay
from pipeline.settings import load_settings
from pipeline.sim import SHANGHAI, CityConfig, Hotspot, run_simulation
from tests.conftest import PSEUDONYM_KEY

CITY = CityConfig(seed=5, size_m=(6_000.0, 5_000.0), households=3_000, cameras=300)
START = datetime(2026, 3, 2, 18, tzinfo=SHANGHAI)
SPOT = Hotspot(
    lat=30.25,
    lon=120.15,
    radius_m=250.0,
    start=START + timedelta(minutes=40),
    end=START + timedelta(minutes=80),
    multiplier=8.0,
)


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    """The settings ``hotspot evaluate`` reads: its keys stay out of the working folder."""
    monkeypatch.setenv("HOTSPOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTSPOT_PSEUDONYM_KEY", PSEUDONYM_KEY)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """(history folder, evaluation folder) of the same city: the history covers the whole
    local day before the evaluation day, with an hour to spare on each side."""
    root = tmp_path_factory.mktemp("evaluate")
    run_simulation(
        root / "history",
        seed=3,
        city=CITY,
        duration=timedelta(hours=26),
        start=START - timedelta(hours=43),
        scale=0.3,
        n_hotspots=0,
    )
    run_simulation(
        root / "eval",
        seed=4,
        city=CITY,
        duration=timedelta(hours=2),
        start=START,
        scale=0.3,
        hotspots=(SPOT,),
    )
    return root / "history", root / "eval"


def _args(folder: Path) -> list[str]:
    return [
        "evaluate",
        "--replay",
        str(folder / "replay.jsonl"),
        "--truth",
        str(folder / "truth.json"),
        "--registry",
        str(folder / "registry.geojson"),
    ]


def _figure(output: str, label: str) -> str:
    return re.search(rf"^{label}:\s+(\S+)", output, re.MULTILINE).group(1)


def test_evaluate_prints_the_detection_figures(runs):
    history, folder = runs
    result = CliRunner().invoke(app, [*_args(folder), "--history", str(history / "replay.jsonl")])
    assert result.exit_code == 0, result.output
    report = evaluate_replay(
        load_settings(),
        folder / "replay.jsonl",
        folder / "truth.json",
        folder / "registry.geojson",
        history / "replay.jsonl",
    )
    assert report.planted == 1 and report.detected == 1  # an 8x hotspot over 40 min is found
    out = result.output
    assert _figure(out, "recall") == "1.00"
    # A flag already open next to the spot at its onset covers it: detected, but no delay.
    delay = report.median_delay_s
    assert _figure(out, "median time to first flag") == (
        "n/a" if delay is None else f"{delay / 60:.1f}"
    )
    assert _figure(out, "false flags") == str(report.false_flags)
    assert _figure(out, "false flags per 10 km²/day") == f"{report.false_flags_per_10km2_day:.2f}"


def test_evaluate_without_history_uses_the_fallback(runs):
    _, folder = runs
    result = CliRunner().invoke(app, _args(folder))
    assert result.exit_code == 0, result.output
    assert int(_figure(result.output, "planted hotspots")) == 1


def test_evaluate_missing_replay_is_a_clear_error(runs, tmp_path):
    _, folder = runs
    args = _args(folder)
    args[2] = str(tmp_path / "absent.jsonl")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2  # refused where the option is parsed, before any work
    assert "does not exist" in " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
