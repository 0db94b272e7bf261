"""Every ``hotspot`` command walked through the everyday mistakes of its first hour (issue 21),
each as a real ``python -m jobs`` process: the command exits non-zero, prints no traceback, and
its message names what was wrong and what to do. Read-only commands leave no file behind.

The broker cases use a loopback port nobody listens on: a real "connection refused", no mock.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.commands import COMMANDS, GROUPS
from pipeline.warehouse import open_warehouse
from tests.conftest import PSEUDONYM_KEY

pytestmark = pytest.mark.timeout(600)

#: CSV, not JSON Lines: what a person exports from a spreadsheet and tries to backfill
CSV = "alert_id,lat,lon\nA1,30.2,120.1\nA2,30.3,120.2\n"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: connections are refused


@pytest.fixture(scope="module")
def place(tmp_path_factory, city) -> dict[str, str]:
    """A working folder with the files the mistakes need; ``{name}`` in a case's arguments."""
    root = tmp_path_factory.mktemp("first-hour")
    (root / "x.csv").write_text(CSV)
    (root / "empty.jsonl").write_text("")
    (root / "a-file").write_text("not a folder")
    (root / "x.parquet").write_text(CSV)
    return {
        "root": str(root),
        "csv": str(root / "x.csv"),
        "empty": str(root / "empty.jsonl"),
        "file": str(root / "a-file"),
        "fake_parquet": str(root / "x.parquet"),
        "missing": str(root / "no-such-folder"),
        "replay": str(city.replay),
        "registry": str(city.registry),
        "truth": str(city.truth),
        "data": str(root / "data-typo"),  # a data folder that does not exist
        "port": str(_closed_port()),
    }


def hotspot(cwd: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HOTSPOT_")}
    full = {**clean, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def said(result: subprocess.CompletedProcess) -> str:
    """stderr and stdout as one line of words (rich draws usage errors in a wrapped box)."""
    text = re.sub(r"[│╭╮╰╯─]", " ", result.stderr + result.stdout)
    return " ".join(text.split())


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    text = said(result)
    assert result.returncode != 0, text[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "Unclosed" not in result.stderr, result.stderr[-3000:]
    for word in words:
        assert word in text, text[-2000:]


#: (id, arguments, extra environment, words the message must hold). Arguments and the
#: environment are formatted with ``place``. The environment has the typo'd data folder unless
#: a case names another, so a command that wrongly got that far would create it.
CASES = [
    ("simulate-out-is-a-file", ["simulate", "--out", "{file}"], {}, ["is a file", "folder"]),
    (
        "simulate-start-tomorrow",
        ["simulate", "--out", "{root}/c", "--start", "tomorrow"],
        {},
        ["--start", "not a time", "ISO 8601"],
    ),
    (
        "simulate-start-epoch-seconds",
        ["simulate", "--out", "{root}/c", "--start", "1764000000"],
        {},
        ["epoch seconds", "1764000000000"],
    ),
    ("simulate-zero-hours", ["simulate", "--out", "{root}/c", "--hours", "0"], {}, ["above 0"]),
    ("demo-zero-scale", ["demo", "--scale", "0"], {}, ["--scale", "above 0"]),
    (
        "preview-from-yesterday",
        ["dashboards", "preview", "--from", "yesterday"],
        {},
        ["--from", "not a time"],
    ),
    (
        "preview-epoch-ms-no-warehouse",
        ["dashboards", "preview", "--from", "1764000000000"],
        {},
        ["no warehouse", "HOTSPOT_DATA_DIR"],
    ),
    (
        "preview-reversed",
        ["dashboards", "preview", "--from", "2026-11-25", "--to", "2026-11-24"],
        {},
        ["must be after", "empty"],
    ),
    ("dashboards-build-unknown-option", ["dashboards", "build", "--force"], {}, ["--force"]),
    (
        "dashboards-push-embedded-warehouse",
        ["dashboards", "push"],
        {"HOTSPOT_GRAFANA__URL": "http://127.0.0.1:{port}"},
        ["HOTSPOT_GRAFANA__CLICKHOUSE_URL"],
    ),
    ("schemas-unknown-option", ["schemas", "--write"], {}, ["--write"]),
    (
        "ack-not-a-notice-id",
        ["ack", "flg-0011223344556677", "--unit", "PS1", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["not a notice id", "ntc-"],
    ),
    (
        "ack-unknown-action",
        ["ack", "ntc-0-0011223344556677", "--unit", "PS1", "--action", "lunch"]
        + ["--bootstrap", "127.0.0.1:{port}"],
        {},
        ["--action", "not an action", "received"],
    ),
    (
        "ack-false-alarm-without-reason",
        ["ack", "ntc-0-0011223344556677", "--unit", "PS1", "--action", "false_alarm"]
        + ["--bootstrap", "127.0.0.1:{port}"],
        {},
        ["--reason", "false_alarm needs"],
    ),
    (
        "ack-free-text-reason",
        ["ack", "ntc-0-0011223344556677", "--unit", "PS1", "--action", "false_alarm"]
        + ["--reason", "Mr Wang called it off", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["--reason", "not a reason", "no_incident"],
    ),
    (
        "ack-at-epoch-seconds",
        ["ack", "ntc-0-0011223344556677", "--unit", "PS1", "--at", "1764000000"]
        + ["--bootstrap", "127.0.0.1:{port}"],
        {},
        ["epoch seconds", "1764000000000"],
    ),
    (
        "ack-embedded-broker",
        ["ack", "ntc-0-0011223344556677", "--unit", "PS1"],
        {},
        ["embedded broker", "--bootstrap"],
    ),
    (
        "ack-unreachable-broker",
        ["ack", "ntc-0-0011223344556677", "--unit", "PS1", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["cannot reach Kafka", "127.0.0.1:{port}"],
    ),
    (
        "map-out-missing-folder",
        ["map", "--out", "{missing}/m.png"],
        {},
        ["--out", "does not exist", "mkdir"],
    ),
    ("map-no-registry", ["map", "--out", "{root}/m.png"], {}, ["registry", "simulate"]),
    (
        "to-parquet-missing-folder",
        ["to-parquet", "{replay}", "{missing}/x.parquet"],
        {},
        ["does not exist", "mkdir"],
    ),
    ("to-parquet-of-csv", ["to-parquet", "{csv}", "{root}/x.parquet"], {}, ["not a JSON Lines"]),
    (
        "replay-speed-zero",
        ["replay", "{replay}", "--speed", "0", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["--speed", "positive speed", "--max"],
    ),
    (
        "replay-bad-topic-map",
        ["replay", "{replay}", "--topic-map", "{{bad", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["--topic-map", "not JSON"],
    ),
    (
        "replay-empty-file",
        ["replay", "{empty}", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["no records", "empty"],
    ),
    ("replay-nothing-named", ["replay"], {}, ["name replay files", "--from-warehouse"]),
    (
        "replay-unreachable-broker",
        ["replay", "{replay}", "--max", "--no-progress", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["cannot reach Kafka", "127.0.0.1:{port}"],
    ),
    ("worker-log-level-loud", ["worker", "--log-level", "loud"], {}, ["not a log level", "info"]),
    (
        "worker-unreachable-broker",
        ["worker"],
        {
            "HOTSPOT_BROKER_URL": "kafka://127.0.0.1:{port}",
            "HOTSPOT_DATA_DIR": "{root}/worker",
            "HOTSPOT_REGISTRY_PATH": "{registry}",
            "HOTSPOT_PSEUDONYM_KEY": "a-key-every-worker-shares",
        },
        ["cannot reach Kafka", "HOTSPOT_BROKER_URL"],
    ),
    (
        "worker-cluster-without-pseudonym-key",
        ["worker"],
        {
            "HOTSPOT_BROKER_URL": "kafka://127.0.0.1:{port}",
            "HOTSPOT_REGISTRY_PATH": "{registry}",
        },
        ["no pseudonymisation key", "HOTSPOT_PSEUDONYM_KEY"],
    ),
    (
        "worker-broker-url-with-password",
        ["worker"],
        {"HOTSPOT_BROKER_URL": "kafka://ops:hunter2@127.0.0.1:{port}"},
        ["broker_url", "HOTSPOT_KAFKA_SASL_PASSWORD"],
    ),
    (
        "worker-warehouse-port-not-a-number",
        ["worker"],
        {"HOTSPOT_WAREHOUSE_URL": "clickhouse://w:hunter2@127.0.0.1:ninethousand/hotspot"},
        ["HOTSPOT_WAREHOUSE_URL", "w:***@"],
    ),
    (
        "top-unreachable-bootstrap",
        ["top", "--once", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["cannot reach Kafka", "--bootstrap"],
    ),
    ("top-no-warehouse", ["top", "--once"], {}, ["no warehouse", "HOTSPOT_DATA_DIR"]),
    ("backfill-csv", ["backfill", "{csv}"], {}, ["not a JSON Lines", "Parquet"]),
    ("backfill-empty", ["backfill", "{empty}"], {}, ["no records"]),
    ("backfill-missing-file", ["backfill", "{root}/nope.jsonl"], {}, ["does not exist"]),
    ("backfill-unknown-clock", ["backfill", "{replay}", "--clock", "sundial"], {}, ["arrival"]),
    (
        "backfill-no-processes",
        ["backfill", "{replay}", "--processes", "0"],
        {},
        ["--processes", "greater than or equal to 1"],
    ),
    (
        "backfill-processes-setting-negative",
        ["backfill", "{replay}"],
        {"HOTSPOT_BACKFILL_PROCESSES": "-1"},
        ["backfill_processes"],
    ),
    (
        "export-epoch-seconds",
        ["export", "flags", "--since", "1764000000", "--until", "1764003600"],
        {},
        ["epoch seconds", "1764000000000"],
    ),
    (
        "export-reversed-range",
        ["export", "flags", "--since", "2026-11-25", "--until", "2026-11-24"],
        {},
        ["must be after", "empty"],
    ),
    (
        "export-csv-as-jsonl",
        ["export", "flags", "--since", "2026-11-24", "--until", "2026-11-25"]
        + ["--out", "{root}/x.csv", "--format", "jsonl"],
        {},
        ["extension says csv", "x.jsonl"],
    ),
    (
        "export-unknown-what",
        ["export", "hotspots", "--since", "2026-11-24", "--until", "2026-11-25"],
        {},
        ["flags", "incidents", "alerts"],
    ),
    (
        "export-no-warehouse",
        ["export", "flags", "--since", "2026-11-24", "--until", "2026-11-25"],
        {},
        ["no warehouse", "HOTSPOT_DATA_DIR"],
    ),
    (
        "export-misspelt-variable",
        ["export", "flags", "--since", "2026-11-24", "--until", "2026-11-25"],
        {"HOTSPOT_DATA_DIRR": "{root}"},
        ["HOTSPOT_DATA_DIRR", "did you mean HOTSPOT_DATA_DIR?"],
    ),
    ("deadletter-no-key", ["deadletter", "show"], {}, ["HOTSPOT_PSEUDONYM_KEY"]),
    (
        "deadletter-unknown-reason",
        ["deadletter", "show", "--reason", "gremlins"],
        {},
        ["--reason", "malformed_json"],
    ),
    ("ratings-no-month", ["ratings"], {}, ["--month YYYY-MM"]),
    ("ratings-bad-month", ["ratings", "--month", "2026-13"], {}, ["YYYY-MM"]),
    ("trends-bad-day", ["trends", "--until", "2026-13-01"], {}, ["--until", "YYYY-MM-DD"]),
    (
        "trends-reversed",
        ["trends", "--since", "2026-11-05", "--until", "2026-11-01"],
        {},
        ["--since 2026-11-05 is after --until 2026-11-01", "swap"],
    ),
    (
        "trends-no-warehouse",
        ["trends", "--until", "2026-11-01"],
        {"HOTSPOT_REGISTRY_PATH": "{registry}"},
        ["no warehouse", "HOTSPOT_DATA_DIR"],
    ),
    (
        "trends-steps-below-minimum",
        ["trends"],
        {"HOTSPOT_TRENDS__STEPS": "5"},
        ["trends.steps (5)", "min_steps"],
    ),
    (
        "baseline-reversed",
        ["baseline", "fit", "--since", "2026-11-25", "--until", "2026-11-24"],
        {},
        ["must be after"],
    ),
    (
        "evaluate-csv-replay",
        ["evaluate", "--replay", "{csv}", "--truth", "{truth}", "--registry", "{registry}"],
        {},
        ["not a JSON Lines"],
    ),
    (
        "evaluate-missing-truth",
        ["evaluate", "--replay", "{replay}", "--truth", "{root}/t.json"]
        + ["--registry", "{registry}"],
        {},
        ["--truth", "does not exist"],
    ),
    (
        "variable-not-a-number",
        ["top", "--once"],
        {"HOTSPOT_PARTITIONS": "four"},
        ["HOTSPOT_PARTITIONS", "valid integer", "'four'"],
    ),
    (
        "warehouse-server-unreachable",
        ["top", "--once"],
        {"HOTSPOT_WAREHOUSE_URL": "clickhouse://127.0.0.1:{port}/hotspot"},
        ["unreachable", "HOTSPOT_WAREHOUSE_URL"],
    ),
    (
        "migrate-server-unreachable",
        ["migrate"],
        {"HOTSPOT_WAREHOUSE_URL": "clickhouse://127.0.0.1:{port}/hotspot"},
        ["unreachable", "HOTSPOT_WAREHOUSE_URL"],
    ),
    ("registry-check-missing", ["registry", "check", "{root}/nope.geojson"], {}, ["not a file"]),
    ("registry-check-csv", ["registry", "check", "{csv}"], {}, ["not valid JSON"]),
    (
        "registry-grid-north-below-south",
        ["registry", "grid", "--bbox", "30.3,120.1,30.2,120.2", "--out", "{root}/g.geojson"],
        {},
        ["--bbox", "south must be below north", "S,W,N,E"],
    ),
    (
        "registry-grid-bbox-not-numbers",
        ["registry", "grid", "--bbox", "30.2 120.1 30.3 120.2", "--out", "{root}/g.geojson"],
        {},
        ["--bbox", "not four numbers"],
    ),
    (
        "registry-grid-too-many-cells",
        ["registry", "grid", "--bbox", "20,100,40,120", "--cell-m", "100"]
        + ["--out", "{root}/g.geojson"],
        {},
        ["cells", "larger --cell-m"],
    ),
    ("backfill-a-folder", ["backfill", "{root}"], {}, ["not a file"]),
    ("backfill-csv-named-parquet", ["backfill", "{fake_parquet}"], {}, ["not a Parquet file"]),
    (
        "registry-not-geojson",
        ["map", "--out", "{root}/m.png"],
        {"HOTSPOT_REGISTRY_PATH": "{csv}"},
        ["registry", "not valid JSON"],
    ),
    (
        "notify-no-webhooks",
        ["notify", "--bootstrap", "127.0.0.1:{port}"],
        {},
        ["webhook_urls", "HOTSPOT_WEBHOOK_URLS"],
    ),
    (
        "notify-embedded-broker",
        ["notify"],
        {"HOTSPOT_WEBHOOK_URLS": '{{"station": "http://127.0.0.1:{port}/hook"}}'},
        ["embedded broker", "--bootstrap"],
    ),
    (
        "notify-unreachable-broker",
        ["notify", "--bootstrap", "127.0.0.1:{port}"],
        {"HOTSPOT_WEBHOOK_URLS": '{{"station": "http://127.0.0.1:{port}/hook"}}'},
        ["cannot reach Kafka", "127.0.0.1:{port}"],
    ),
    (
        "report-notices-not-a-month",
        ["report", "notices", "--month", "2026-13"],
        {},
        ["2026-13", "YYYY-MM"],
    ),
    (
        "report-notices-no-warehouse",
        ["report", "notices", "--month", "2026-11"],
        {},
        ["no warehouse", "HOTSPOT_DATA_DIR"],
    ),
    (
        "report-ratings-not-a-month",
        ["report", "ratings", "--month", "2026-13"],
        {},
        ["2026-13", "YYYY-MM"],
    ),
    (
        "report-ratings-no-warehouse",
        ["report", "ratings", "--month", "2026-11"],
        {},
        ["no warehouse", "HOTSPOT_DATA_DIR"],
    ),
    (
        "settings-file-missing",
        ["top", "--once", "--settings", "{root}/nope.toml"],
        {},
        ["nope.toml does not exist"],
    ),
]


@pytest.mark.parametrize(
    ("args", "env", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_mistake_ends_in_one_message_not_a_traceback(place, args, env, words):
    full_env = {"HOTSPOT_DATA_DIR": place["data"]} | {k: v.format(**place) for k, v in env.items()}
    result = hotspot(place["root"], *(a.format(**place) for a in args), env=full_env)
    assert_refused(result, *(w.format(**place) for w in words))
    assert not Path(place["data"]).exists(), f"{args} created the data folder it was given"


def test_every_command_has_its_mistakes_walked():
    walked = {" ".join(c[1][:2]) if c[1][0] in GROUPS else c[1][0] for c in CASES}
    groups = {
        f"{name} {command.name or command.callback.__name__}"
        for name, group in GROUPS.items()
        for command in group.registered_commands
    }
    assert set(COMMANDS) | groups <= walked, sorted(set(COMMANDS) | groups - walked)


def test_deadletter_show_with_another_key_says_so(backfilled_city, tmp_path):
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        (letters,) = wh.query(f"SELECT count() FROM {wh.database}.deadletters")[0]
    assert letters > 0, "the test city should hold dead letters"
    result = hotspot(
        str(tmp_path),
        "deadletter",
        "show",
        env={
            "HOTSPOT_DATA_DIR": str(backfilled_city.data_dir),
            "HOTSPOT_PSEUDONYM_KEY": "not-" + PSEUDONYM_KEY,
        },
    )
    assert_refused(result, "another key", "HOTSPOT_PSEUDONYM_KEY")


def test_deadletter_show_never_writes_a_key(backfilled_city, tmp_path):
    """A folder with a warehouse and no key: the reader refuses, and no key appears."""
    key_file = backfilled_city.data_dir / "pseudonym.key"
    assert not key_file.exists()
    result = hotspot(
        str(tmp_path), "deadletter", "show", env={"HOTSPOT_DATA_DIR": str(backfilled_city.data_dir)}
    )
    assert_refused(result, "no pseudonym key", "HOTSPOT_PSEUDONYM_KEY", str(key_file))
    assert not key_file.exists()


def test_ratings_of_a_month_without_alerts_write_nothing(backfilled_city, tmp_path):
    env = {
        "HOTSPOT_DATA_DIR": str(backfilled_city.data_dir),
        "HOTSPOT_REGISTRY_PATH": str(backfilled_city.registry_path),
    }
    result = hotspot(str(tmp_path), "ratings", "--month", "2020-01", env=env)
    assert_refused(result, "no alerts stored for 2020-01", "nothing was written")
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        rows = wh.query(
            f"SELECT count() FROM {wh.database}.compound_ratings WHERE month = '2020-01-01'"
        )
    assert rows == [(0,)]


def test_trends_of_a_day_before_the_stored_history_write_nothing(backfilled_city, tmp_path):
    """The test city holds a few hours: a four-week window reaches before them."""
    env = {
        "HOTSPOT_DATA_DIR": str(backfilled_city.data_dir),
        "HOTSPOT_REGISTRY_PATH": str(backfilled_city.registry_path),
    }
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        ((last,),) = wh.query(f"SELECT toDate(max(event_time)) FROM {wh.database}.alerts")
    result = hotspot(str(tmp_path), "trends", "--until", str(last), env=env)
    assert_refused(result, "before the first stored alert", "backfill history", "nothing")
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        rows = wh.query(f"SELECT count() FROM {wh.database}.cell_trends")
    assert rows == [(0,)]


def test_a_warehouse_another_process_holds_is_named_with_what_to_use_instead(
    backfilled_city, tmp_path
):
    """chDB lets one process open a directory: the second reader is told who holds it and
    what reads alongside (``top --bootstrap``, a ClickHouse server), not "another worker"."""
    env = {
        "HOTSPOT_DATA_DIR": str(backfilled_city.data_dir),
        "HOTSPOT_REGISTRY_PATH": str(backfilled_city.registry_path),
    }
    with open_warehouse(backfilled_city.resolved_warehouse_url):  # this test process holds it
        result = hotspot(
            str(tmp_path),
            "export",
            "flags",
            "--since",
            "2026-01-01",
            "--until",
            "2027-01-01",
            env=env,
        )
    assert_refused(
        result, f"in use by process {os.getpid()}", "top --bootstrap", "HOTSPOT_WAREHOUSE_URL"
    )


def test_evaluate_leaves_no_key_or_folder_behind(city, tmp_path):
    """An evaluation reads files and prints figures: without a configured key it must not
    write a pseudonym.key into the data folder (a later worker would pseudonymise with it)."""
    data = tmp_path / "var"
    result = hotspot(
        str(tmp_path),
        "evaluate",
        "--replay",
        str(city.replay),
        "--truth",
        str(city.truth),
        "--registry",
        str(city.registry),
        env={"HOTSPOT_DATA_DIR": str(data)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "recall:" in result.stdout
    assert not data.exists()
