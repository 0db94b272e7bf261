"""``hotspot simulate --sparse``: a sparse city, about 100 records a day over about 1,000 km²."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from pipeline.sim import SPARSE, read_replay_jsonl

pytestmark = pytest.mark.timeout(300)


def test_sparse_writes_a_city_of_about_100_records_a_day_over_1000_km2(tmp_path):
    out = tmp_path / "sparse"
    run = subprocess.run(
        [sys.executable, "-m", "jobs", "simulate", "--out", str(out), "--sparse", "--hours",
         "96", "--start", "2026-08-01T16:00:00Z", "--hotspots", "1"],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    truth = json.loads((out / "truth.json").read_text())
    records = list(read_replay_jsonl(out / "replay.jsonl"))
    assert 300 <= len(records) <= 500  # 4 days at about 100 a day
    assert truth["config"]["duration"] == 96 * 3600
    min_lon, min_lat, max_lon, max_lat = truth["city"]["bbox"]
    km_lat = 111.2 * (max_lat - min_lat)
    km_lon = 111.2 * (max_lon - min_lon) * math.cos(math.radians((min_lat + max_lat) / 2))
    assert km_lon == pytest.approx(36.0, rel=0.01) and km_lat == pytest.approx(28.0, rel=0.01)
    assert SPARSE.city.size_m == (36_000.0, 28_000.0)
    registry = json.loads((out / "registry.geojson").read_text())
    assert len(registry["features"]) > 1000  # the four-level registry of that area
