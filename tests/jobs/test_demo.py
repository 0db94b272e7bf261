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
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for heading in ("Feeds", "Dead letters by reason", "Hotspot flags", "Where the data is"):
        assert heading in result.stdout
    assert "replayed" in result.stdout and "incidents" in result.stdout
    assert (data / "hotspots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Look further" in result.stdout and "hotspot top --once" in result.stdout

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
