"""The operator commands as a user runs them, each its own process on a backfilled warehouse:
``export``, ``baseline fit``, ``top --once`` and ``map``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.warehouse import open_warehouse
from tests.conftest import PSEUDONYM_KEY

pytestmark = pytest.mark.timeout(300)


def hotspot(settings, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HOTSPOT_DATA_DIR": str(settings.data_dir),
        "HOTSPOT_REGISTRY_PATH": str(settings.registry_path),
        "HOTSPOT_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "HOTSPOT_PARTITIONS": "2",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == expect, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def span(backfilled_city):
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        lo, hi, open_flags = wh.query(
            f"SELECT toUnixTimestamp64Milli(min(event_time)), "
            f"toUnixTimestamp64Milli(max(event_time)), "
            f"(SELECT count() FROM {wh.database}.flags FINAL WHERE status != 'close') "
            f"FROM {wh.database}.alerts"
        )[0]
    return lo, hi + 1, open_flags


def test_export_writes_every_incident_of_the_range(backfilled_city, span, tmp_path):
    out = tmp_path / "incidents.jsonl"
    result = hotspot(
        backfilled_city,
        "export",
        "incidents",
        "--since",
        str(span[0]),
        "--until",
        str(span[1] + 3_600_000),
        "--out",
        str(out),
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and f"{len(rows):,} incidents written" in result.stderr


def test_an_empty_export_says_where_the_rows_are(backfilled_city, span, tmp_path):
    result = hotspot(
        backfilled_city, "export", "alerts", "--since", "2020-01-01", "--until", "2020-01-02"
    )
    assert result.stdout == ""
    assert "0 alerts written to standard output; the warehouse's alerts have event_time" in (
        result.stderr
    )
    assert "widen --since/--until" in result.stderr


def test_baseline_fit_stores_a_fit_the_engine_then_uses(backfilled_city, span):
    result = hotspot(
        backfilled_city, "baseline", "fit", "--since", str(span[0]), "--until", str(span[1])
    )
    assert "cells with history" in result.stdout
    fit_id = result.stdout.split()[1].rstrip(":")
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        newest = wh.query(
            f"SELECT fit_id FROM {wh.database}.baselines ORDER BY fitted_time DESC LIMIT 1"
        )
    assert newest == [(fit_id,)]


def test_baseline_fit_without_a_range_fits_the_stored_history(backfilled_city, span):
    result = hotspot(backfilled_city, "baseline", "fit")
    assert "all the stored history" in result.stdout, result.stdout
    fit_id = result.stdout.split("baseline ")[1].split(":")[0]
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        since, until = wh.query(
            "SELECT toUnixTimestamp64Milli(any(start_time)), "
            f"toUnixTimestamp64Milli(any(end_time)) FROM {wh.database}.baselines "
            f"WHERE fit_id = '{fit_id}'"
        )[0]
    assert (since, until) == (span[0], span[1])  # the oldest alert to just after the newest
    assert "days of history is thin" in result.stderr  # three hours of it


def test_baseline_fit_of_a_period_without_alerts_says_where_they_are(backfilled_city, span):
    result = hotspot(
        backfilled_city,
        "baseline",
        "fit",
        "--since",
        "2020-01-01",
        "--until",
        "2020-02-01",
        expect=2,
    )
    said = " ".join(result.stderr.split())
    assert "no stored alerts from 2020-01-01" in said
    assert "choose --since/--until within it" in said
    assert "HOTSPOT_RETENTION__ALERTS" in said  # 2020 is past the alerts' 400 days


def test_top_once_lists_the_open_flags(backfilled_city, span):
    result = hotspot(backfilled_city, "top", "--once")
    assert span[2] > 0 and f"{span[2]} open" in result.stdout


def test_map_writes_a_png(backfilled_city, span, tmp_path):
    out = tmp_path / "map.png"
    result = hotspot(backfilled_city, "map", "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "flags" in result.stdout and "alerts" in result.stdout


def test_replay_reports_broken_lines_and_sends_every_valid_one(broker, city, tmp_path):
    from pipeline.kafka import ensure_topics
    from pipeline.replay import read_jsonl
    from tests.jobs.test_worker import read_topic

    lines = city.replay.read_bytes().splitlines()[:300]
    cameras = [line for line in lines if line.startswith(b'{"topic":"alerts.camera"')]
    path = tmp_path / "broken.jsonl"
    path.write_bytes(
        b"\n".join([*cameras[:50], b'{"topic": "alerts.camera", "val', *cameras[50:], b"\xff\xfe"])
        + b"\n"
    )
    topic = f"{tmp_path.name[-20:]}.camera"
    ensure_topics(broker.bootstrap, [topic], 1)
    env = {**os.environ, "HOTSPOT_BROKER_URL": f"kafka://{broker.bootstrap}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs",
            "replay",
            str(path),
            "--max",
            "--no-progress",
            "--topic-map",
            json.dumps({"alerts.camera": topic}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reported = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert [line[len(str(path)) :].split(":")[1] for line in reported] == [
        "51",
        str(len(cameras) + 2),
    ]
    assert f"sent {len(cameras):,} records; 2 broken lines" in result.stdout
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(cameras) + b"\n")
    assert [r.value for r in read_topic(broker.bootstrap, topic)] == [
        r.value for r in read_jsonl(clean)
    ]


def test_to_parquet_writes_every_valid_line_and_reports_broken_ones(city, tmp_path):
    import pyarrow.parquet as pq

    from pipeline.replay import read_jsonl
    from pipeline.replay.typed import LAYOUT_KEY

    lines = city.replay.read_bytes().splitlines()[:200]
    source = tmp_path / "broken.jsonl"
    source.write_bytes(
        b"\n".join([*lines[:20], b'{"topic": "alerts.camera", "val', *lines[20:]]) + b"\n"
    )
    target = tmp_path / "typed.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "jobs", "to-parquet", str(source), str(target), "--typed"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{source}:21:" in result.stderr
    assert f"wrote {len(lines):,} rows to {target}; 1 broken lines" in result.stdout
    table = pq.read_table(target)
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(lines) + b"\n")
    assert table.column("value").to_pylist() == [r.value for r in read_jsonl(clean)]
    assert LAYOUT_KEY in table.schema.metadata
