"""``hotspot backfill`` gives the flags, incidents and warehouse rows of a live run over Kafka.

The live run: the test city replayed into a real Tansu broker with ``hotspot replay --max``,
then ``hotspot worker --until-drained`` as its own process; then one tick alert in every
partition of every feed topic, far enough in event time to close every window, and the worker
again (so its correlator checkpoints are restored on the way). Every feed partition is an origin
whose progress the live watermark waits for (pipeline/marks.py), hence a tick in each; the
backfill has one origin, and the same ticks move it as far. The backfill: the same file plus
the same ticks through ``hotspot backfill --no-flush --clock wall`` (the live worker's clock)
into another warehouse. Both warehouses are read back and compared row by row.

Lateness is set beyond the input's span for both runs: a live worker reading a backlog
consumes the four feed topics at unrelated speeds, so which alert is late would otherwise
depend on the broker's scheduling, not on the input. Idle watermark marks are off in the live
run: they declare the wall clock, which no replay file holds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipeline.geo.admin_units import load_registry
from pipeline.warehouse import open_warehouse
from tests.jobs.test_worker import tick_every_feed_partition, ticks

pytestmark = pytest.mark.timeout(900)

LATENESS_S = 6 * 3600
ALERT_COLUMNS = (
    "alert_id, source, source_id, toUnixTimestamp64Milli(event_time) AS t, lat, lon, category, "
    "severity, grid_code, community_code, street_code, district_code, station_id, device, "
    "household, caller, priority, camera_id, confidence, reporter_id, status, report_ref"
)


def tick_lines(settings, last_event_ms: int) -> list[bytes]:
    """The ticks of :func:`tests.jobs.test_worker.tick_every_feed_partition`, as replay lines
    (for the backfill, which has no partitions)."""
    registry = load_registry(settings.registry_path)
    lat, lon = float(registry.grid_centroid_lat[0]), float(registry.grid_centroid_lon[0])
    at = tick_time(settings, last_event_ms)
    return [
        json.dumps({"topic": f"alerts.{feed}", "key": None, "ts": at, "value": value}).encode()
        for partition in range(settings.partitions)
        for feed, value in ticks(f"tick{at}-{partition}", at, lat, lon).items()
    ]


def tick_time(settings, last_event_ms: int) -> int:
    p = settings.correlation
    return last_event_ms + (LATENESS_S + p.window_s + p.incident_gap_s + 2 * p.slide_s) * 1000


def hotspot(*args: str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        pytest.fail(f"hotspot {args[0]} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def warehouse_rows(url: str) -> dict[str, list]:
    with open_warehouse(url) as wh:
        db = wh.database

        def rows(sql: str) -> list:
            return sorted(map(repr, wh.query(sql)))

        return {
            "alerts": rows(f"SELECT {ALERT_COLUMNS} FROM {db}.alerts FINAL"),
            "incidents": rows(f"SELECT * FROM {db}.incidents FINAL"),
            "flags": rows(f"SELECT * FROM {db}.flags FINAL"),
            "deadletters": sorted(
                Counter(
                    wh.query(f"SELECT reason, source, alert_id, detail FROM {db}.deadletters FINAL")
                ).items()
            ),
        }


def test_backfill_gives_the_rows_of_a_live_run(worker_config, city, tmp_path, monkeypatch):
    toml = tmp_path / "settings.toml"
    toml.write_text(f"[correlation]\nlateness_s = {LATENESS_S}\n")
    monkeypatch.setenv("HOTSPOT_SETTINGS_FILE", str(toml))
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")
    settings = worker_config.settings
    events = [json.loads(line)["ts"] for line in city.replay.read_bytes().splitlines()]
    tick_file = tmp_path / "ticks.jsonl"
    tick_file.write_bytes(b"\n".join(tick_lines(settings, max(events))) + b"\n")
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(city.replay.read_bytes() + tick_file.read_bytes())

    live = worker_config.env()
    topics = json.dumps({f"alerts.{s}": t for s, t in settings.topics.feeds().items()})
    hotspot(
        "replay",
        str(city.replay),
        "--max",
        "--bootstrap",
        worker_config.bootstrap,
        "--topic-map",
        topics,
        "--no-progress",
        env=live,
    )
    worker_config.run_worker()
    registry = load_registry(settings.registry_path)
    lat, lon = float(registry.grid_centroid_lat[0]), float(registry.grid_centroid_lon[0])
    tick_every_feed_partition(worker_config, tick_time(settings, max(events)), lat, lon)
    worker_config.run_worker()

    offline = {**live, "HOTSPOT_DATA_DIR": str(tmp_path / "backfill")}
    hotspot("backfill", str(whole), "--no-flush", "--clock", "wall", "--no-progress", env=offline)

    expected = warehouse_rows(settings.resolved_warehouse_url)
    got = warehouse_rows(f"chdb://{(tmp_path / 'backfill' / 'warehouse').resolve()}")
    assert len(expected["alerts"]) > 7000
    assert expected["flags"] and expected["incidents"], "the city's hotspot was found live"
    for table in ("alerts", "incidents", "flags", "deadletters"):
        assert got[table] == expected[table], f"{table} differ"


def backfilled(city, data: Path, lines: list[bytes]) -> tuple[subprocess.CompletedProcess, dict]:
    path = data.with_suffix(".jsonl")
    path.write_bytes(b"\n".join(lines) + b"\n")
    env = {
        **os.environ,
        "HOTSPOT_DATA_DIR": str(data),
        "HOTSPOT_REGISTRY_PATH": str(city.registry),
        "HOTSPOT_PSEUDONYM_KEY": "test-key-0123456789abcdef",
    }
    env.pop("HOTSPOT_SETTINGS_FILE", None)
    result = hotspot("backfill", str(path), "--no-progress", env=env)
    return result, warehouse_rows(f"chdb://{(data / 'warehouse').resolve()}")


def test_broken_lines_are_reported_and_every_valid_line_is_kept(city, tmp_path):
    lines = city.replay.read_bytes().splitlines()[:400]
    broken = [
        *lines[:100],
        b'{"topic": "alerts.camera", "value": ',
        *lines[100:200],
        b"not json at all",
        b"",
        b'{"topic": "alerts.other", "value": {}}',
        *lines[200:],
    ]
    clean_result, clean = backfilled(city, tmp_path / "clean", lines)
    result, got = backfilled(city, tmp_path / "broken", broken)

    path = str(tmp_path / "broken.jsonl")
    reported = [line for line in result.stderr.splitlines() if line.startswith(path)]
    assert [line[len(path) :].split(":")[1] for line in reported] == ["101", "202", "204"]
    assert "not a feed topic" in reported[2]
    assert re.search(r"broken lines \(reported above\) +│ +3 │", result.stdout), result.stdout
    assert not [line for line in clean_result.stderr.splitlines() if line.startswith(path)]
    assert got["alerts"] == clean["alerts"] and len(got["alerts"]) > 300
    assert got["deadletters"] == clean["deadletters"]
