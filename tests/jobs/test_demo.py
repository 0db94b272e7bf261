"""The quick start's first command, end to end: ``hotspot demo`` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_to_its_report_and_draws_the_map(tmp_path):
    data = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs",
            "demo",
            "--data-dir",
            str(data),
            "--hours",
            "0.5",
            "--scale",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},  # piped, as `| less`
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for heading in ("Feeds", "Dead letters by reason", "Hotspot flags", "Where the data is"):
        assert heading in result.stdout
    assert "replayed" in result.stdout and "incidents" in result.stdout
    assert (data / "hotspots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Look further" in result.stdout and "hotspot top --once" in result.stdout
    # the patrol loop: the report tells receipts and timers, and they add up. (How many flags
    # a half hour opens, and so which answers are drawn, depends on the wall clock it starts
    # at: the figures are checked against each other, not against fixed values.)
    assert "Notices to stations" in result.stdout
    acks = int(result.stdout.split("simulated stations sent ")[1].split()[0])
    issued = _count(result.stdout, "notices issued")
    within = _count(result.stdout, "received within 5 min")
    reminded = _count(result.stdout, "reminders (no receipt at 5 min)")
    escalated = _count(result.stdout, "escalations (none at 30 min)")
    never = _count(result.stdout, "not received")
    assert acks >= issued - never  # every receipt is an ack the stations sent
    assert within <= issued and reminded <= issued
    # not "within + reminded <= issued": the replay runs ahead of the worker, and a station's
    # answer dated within 5 minutes can reach its partition after alerts whose marks passed
    # the deadline, so the notice was reminded and then received in time by its own clock
    assert escalated <= reminded  # an escalated notice was reminded first
    # progress while the baseline is fitted too, not only a spinner: the history's records
    # read, then the fit's steps, each to its end (issue 21)
    reading = next(line for line in result.stdout.splitlines() if "baseline: reading" in line)
    done, total = reading.split("records")[0].split()[-1].split("/")
    assert done == total and int(total) > 0, reading
    fitting = next(line for line in result.stdout.splitlines() if "baseline: fitting" in line)
    steps = next(w for w in fitting.split() if "/" in w).split("/")
    assert steps[0] == steps[1] and int(steps[1]) >= 3, fitting
    assert "baseline fitted on" in result.stdout

    # The demo's folder is a data folder for the other commands (issue 21): they find its
    # registry, warehouse and key with HOTSPOT_DATA_DIR alone.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    env |= {"HOTSPOT_DATA_DIR": str(data), "COLUMNS": "200"}
    for args in (["map", "--out", str(tmp_path / "again.png")], ["top", "--once"]):
        after = subprocess.run(
            [sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True
        )
        assert after.returncode == 0, (args, after.stderr[-3000:])
    assert (tmp_path / "again.png").exists()
    shown = subprocess.run(
        [sys.executable, "-m", "jobs", "deadletter", "show", "--limit", "3"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0 and shown.stdout.strip(), shown.stderr[-3000:]

    # every other command the README lists that reads a data folder works on it too
    look = result.stdout.split("hotspot export flags --since ", 1)[1].split()
    since, until = look[0], look[2]
    sim = data / "sim"
    for args in (
        ["export", "flags", "--since", since, "--until", until],
        [
            "export",
            "incidents",
            "--since",
            since,
            "--until",
            until,
            "--out",
            str(tmp_path / "i.csv"),
        ],
        ["export", "alerts", "--since", since, "--until", until, "--format", "jsonl"],
        ["dashboards", "preview", "--from", since, "--to", until],
        ["ratings", "--month", since[:7]],
        ["baseline", "fit", "--since", since, "--until", until],
        [
            "evaluate",
            "--replay",
            str(sim / "replay.jsonl"),
            "--truth",
            str(sim / "truth.json"),
            "--registry",
            str(sim / "registry.geojson"),
        ],
    ):
        after = subprocess.run(
            [sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True
        )
        assert after.returncode == 0, (args, after.stderr[-3000:])
        assert "Traceback" not in after.stderr and (after.stdout + after.stderr).strip(), args
    assert (tmp_path / "i.csv").read_text().startswith("incident_id,")


def _count(text: str, label: str) -> int:
    """The figure on the report's line that starts with ``label``."""
    line = next(line for line in text.splitlines() if label in line)
    return int(line.split(label)[1].replace("│", " ").replace(",", "").split()[0])
