"""A backfill of history older than the warehouse keeps is refused before anything is loaded
(issue 19): the scan of the files' event times, the refusal, ``--ignore-retention``, and a
raised retention that keeps the history. The commands run as real ``python -m jobs``
processes on real chDB."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.backfill.retention import explain, scan_event_times
from pipeline.feeds.decode import FEEDS
from pipeline.settings import Retention, Settings
from pipeline.warehouse import open_warehouse
from tests.conftest import PSEUDONYM_KEY

pytestmark = pytest.mark.timeout(600)

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def old_city(tmp_path_factory):
    """One hour of a simulated city in March 2018: older than every default retention."""
    from pipeline.sim import run_simulation

    return run_simulation(
        tmp_path_factory.mktemp("old-city"),
        seed=5,
        start=datetime(2018, 3, 1, 1, tzinfo=UTC),
        duration=timedelta(hours=1),
        scale=0.1,
        n_hotspots=1,
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, old_city, city):
    """The 2018 hour and yesterday's three hours in one file, with a broken line between."""
    path = tmp_path_factory.mktemp("mixed") / "mixed.jsonl"
    old, recent = old_city.replay.read_bytes(), city.replay.read_bytes()
    path.write_bytes(old + b'{"topic": "alerts.camera", "value": {"detected_at": \n' + recent)
    return path, old.count(b"\n")


def _stored_times(path, now_ms: int) -> list[int]:
    """The event times the backfill will store, read line by line with the standard library:
    a JSON object on a feed topic whose time field is an epoch-ms integer or an ISO time, no
    more than 7 days (the default ``max_age_s``) behind its arrival ``ts``."""
    times = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
            when = record["value"][FEEDS[record["topic"].removeprefix("alerts.")].time_field]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(when, str):
            try:
                when = int(datetime.fromisoformat(when).timestamp() * 1000)
            except ValueError:
                continue
        if not isinstance(when, int) or isinstance(when, bool):
            continue
        if when >= record.get("ts", now_ms) - 7 * DAY_MS:
            times.append(when)
    return times


def test_the_scan_counts_what_each_table_would_drop(mixed):
    path, n_old = mixed
    now = int(time.time() * 1000)
    check = scan_event_times([path], Settings(), now, chunk_records=500)
    times = _stored_times(path, now)
    assert check.records == len(times)  # the broken line is left to the backfill
    assert (check.oldest_ms, check.newest_ms) == (min(times), max(times))
    assert datetime.fromtimestamp(check.oldest_ms / 1000, UTC).date().isoformat() == "2018-03-01"
    old = sum(t < now - 400 * DAY_MS for t in times)
    assert 0.9 * n_old < old <= n_old  # the 2018 hour, less its faults; none of yesterday's
    # alerts (400 days) and rollups (730) would drop the 2018 records; incidents and flags
    # are kept for ever
    by_table = {kept.table: n for kept, n in check.outside.items()}
    assert by_table == {"alerts": old, "cell_minute_states": old, "unit_hour_states": old}
    message = explain(check, loading=False)
    assert "dated 2018-03-01 to 2018-03-0" in message  # the dropped range, within the file's
    assert "HOTSPOT_RETENTION__ALERTS" in message
    assert "HOTSPOT_RETENTION__ROLLUPS" in message and "--ignore-retention" in message

    kept = Settings(retention=Retention(alerts=0, rollups=0))
    assert scan_event_times([path], kept, now).outside == {}


def test_records_the_backfill_dead_letters_as_stale_are_not_counted(mixed):
    """The simulator's device-clock resets (2001) are stale by their arrival, so they never
    reach the alerts table and do not make a backfill of recent data refused; judged by the
    wall clock, a 2018 record is stale too."""
    path, _ = mixed
    now = int(time.time() * 1000)
    check = scan_event_times([path], Settings(), now, clock="wall")
    assert check.outside == {} and now - check.oldest_ms <= 7 * DAY_MS


def _backfill(tmp_path, city, *args: str, env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HOTSPOT_")}
    full = {
        **clean,
        "COLUMNS": "200",
        "HOTSPOT_DATA_DIR": str(tmp_path / "data"),
        "HOTSPOT_REGISTRY_PATH": str(city.registry),
        "HOTSPOT_PSEUDONYM_KEY": PSEUDONYM_KEY,
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "jobs", "backfill", *args, "--no-progress"],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _table(text: str) -> str:
    """A rich table's words on one line, without its box drawing."""
    return " ".join(re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐├┤┼╇╈]", " ", text).split())


def _alerts_in_2018(tmp_path) -> int:
    with open_warehouse(f"chdb://{tmp_path / 'data' / 'warehouse'}") as wh:
        rows = wh.query(f"SELECT count() FROM {wh.database}.alerts WHERE toYear(event_time) = 2018")
    return int(rows[0][0])


def test_history_older_than_the_retention_is_refused_and_nothing_is_loaded(tmp_path, old_city):
    result = _backfill(tmp_path, old_city, str(old_city.replay))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "2018-03-01" in said and "HOTSPOT_RETENTION__ALERTS" in said
    assert not (tmp_path / "data" / "warehouse").exists()  # refused before it was touched


def test_ignore_retention_loads_and_says_what_the_warehouse_drops(tmp_path, old_city):
    result = _backfill(tmp_path, old_city, str(old_city.replay), "--ignore-retention")
    assert result.returncode == 0, result.stderr[-2000:]
    said = " ".join((result.stderr + result.stdout).split())
    assert "will drop" in said and "alerts:" in said
    assert "the files' event times 2018-03-01" in _table(result.stdout)
    assert _alerts_in_2018(tmp_path) == 0  # as it said: the TTL dropped them


def test_a_retention_that_covers_the_history_keeps_it(tmp_path, old_city):
    keep = {"HOTSPOT_RETENTION__ALERTS": "0", "HOTSPOT_RETENTION__ROLLUPS": "0"}
    result = _backfill(tmp_path, old_city, str(old_city.replay), env=keep)
    assert result.returncode == 0, result.stderr[-2000:]
    said = " ".join((result.stderr + result.stdout).split())
    assert "retention alerts: 400 days -> for ever" in said
    held = _alerts_in_2018(tmp_path)
    assert held > 0
    table = _table(result.stdout)
    assert re.search(r"\(read back\) ([\d,]+)", table).group(1) == f"{held:,}", table


def test_with_the_override_nothing_in_retention_is_lost(tmp_path, mixed, city):
    """A file that mixes 2018 and yesterday, loaded with --ignore-retention, keeps every alert
    of yesterday that the same file keeps when the retention covers all of it."""
    path, _ = mixed
    ignored = _backfill(tmp_path / "ignored", city, str(path), "--ignore-retention")
    assert ignored.returncode == 0, ignored.stderr[-2000:]
    keep_all = {"HOTSPOT_RETENTION__ALERTS": "0", "HOTSPOT_RETENTION__ROLLUPS": "0"}
    kept = _backfill(tmp_path / "kept", city, str(path), env=keep_all)
    assert kept.returncode == 0, kept.stderr[-2000:]

    def stored(folder, when: str) -> set[str]:
        with open_warehouse(f"chdb://{folder / 'data' / 'warehouse'}") as wh:
            rows = wh.query(f"SELECT alert_id FROM {wh.database}.alerts FINAL WHERE {when}")
        return {row[0] for row in rows}

    recent = "event_time > now() - INTERVAL 30 DAY"
    assert stored(tmp_path / "kept", recent)
    assert stored(tmp_path / "ignored", recent) == stored(tmp_path / "kept", recent)
    assert stored(tmp_path / "ignored", "toYear(event_time) = 2018") == set()
    assert stored(tmp_path / "kept", "toYear(event_time) = 2018")
