"""The quick start's first command, end to end: ``hotspot demo`` as a user runs it."""

from __future__ import annotations

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
