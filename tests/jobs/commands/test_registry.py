"""``hotspot registry grid`` and ``hotspot registry check`` as real processes: a city without
its own units gets a registry the worker's loader accepts and a backfill of real alerts uses,
and a broken registry gets every problem listed at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipeline.geo.admin_units import load_registry
from pipeline.sim.registry import COMPANIES
from pipeline.warehouse import open_warehouse

pytestmark = pytest.mark.timeout(600)


def hotspot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HOTSPOT_")}
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        env={**clean, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=500,
    )


@pytest.fixture(scope="module")
def grid_over_the_city(city, tmp_path_factory):
    """A 500 m grid registry over the test city's extent, written by the command."""
    s, w, n, e = load_registry(city.registry).bbox
    out = tmp_path_factory.mktemp("grid") / "registry.geojson"
    result = hotspot("registry", "grid", "--bbox", f"{s},{w},{n},{e}", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"HOTSPOT_REGISTRY_PATH={out}" in result.stdout
    return out, (s, w, n, e)


def test_the_grid_covers_the_box_with_cells_of_the_asked_size(grid_over_the_city):
    out, (s, w, n, e) = grid_over_the_city
    registry = load_registry(out)
    gs, gw, gn, ge = registry.bbox
    assert (gs, gw) == pytest.approx((s, w), abs=1e-9)
    assert gn >= n and ge >= e and gn - n < 0.0046 and ge - e < 0.0053  # at most one cell more
    cells = np.asarray(registry.grids.geometry)
    lat = np.array([c.centroid.y for c in cells])
    sides_m = np.sqrt(np.array([c.area for c in cells]) * 111_320.0**2 * np.cos(np.radians(lat)))
    full = sides_m > 0.99 * np.median(sides_m)  # the north and east edges may be cut short
    assert np.abs(sides_m[full] - 500.0).max() < 5.0
    assert (registry.grids.station_id != "").all()  # every cell's flags can be routed
    levels = {len(getattr(registry, a)) for a in ("districts", "streets", "communities")}
    assert min(levels) >= 1


def test_check_accepts_the_grid_and_counts_its_units(grid_over_the_city):
    out, _ = grid_over_the_city
    result = hotspot("registry", "check", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    cells = len(load_registry(out).grids)
    assert "no problems; " in result.stdout and f"{cells:,} grid cells" in result.stdout


def test_check_lists_every_problem_at_once_beyond_the_loader_s_twenty(grid_over_the_city, tmp_path):
    out, _ = grid_over_the_city
    doc = json.loads(out.read_text())
    grids = [f for f in doc["features"] if f["properties"]["level"] == "grid"]
    for k, feature in enumerate(grids[:30]):
        feature["properties"]["parent"] = f"NO-SUCH-{k}"
        feature["properties"]["station_id"] = "PS-000-000"  # one problem per cell, not two
    broken = tmp_path / "broken.geojson"
    broken.write_text(json.dumps(doc))

    result = hotspot("registry", "check", str(broken))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "has 30 problem(s)" in result.stderr
    for k in range(30):
        assert f"unknown parent 'NO-SUCH-{k}'" in result.stderr
    assert "more" not in result.stderr


def test_a_backfill_of_the_city_runs_on_the_grid_registry(city, grid_over_the_city, tmp_path):
    """What a city can do on its first day: real alerts, the placeholder registry."""
    out, _ = grid_over_the_city
    env = {
        "HOTSPOT_DATA_DIR": str(tmp_path),
        "HOTSPOT_REGISTRY_PATH": str(out),
        "HOTSPOT_PSEUDONYM_KEY": "grid-test-key-0123456789",
        "HOTSPOT_MAX_AGE_S": "0",
    }
    # --ignore-retention: the city has a few device-clock resets to 2001 (as golden loads it)
    result = hotspot("backfill", str(city.replay), "--no-progress", "--ignore-retention", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with open_warehouse(f"chdb://{tmp_path / 'warehouse'}") as wh:
        (grids,) = wh.query(
            f"SELECT uniqExact(grid_code), countIf(startsWith(grid_code, 'G-')), count() "
            f"FROM {wh.database}.alerts FINAL"
        )
    distinct, on_the_grid, alerts = grids
    assert alerts > 1000 and on_the_grid == alerts and distinct > 50


def test_check_counts_the_compounds_with_a_company(city):
    result = hotspot("registry", "check", str(city.registry))
    assert result.returncode == 0, result.stderr[-3000:]
    compounds = load_registry(city.registry).compounds
    named = int((compounds.company != "").sum())
    assert 0 < named < len(compounds)  # the simulated registry leaves some compounds unnamed
    assert f"{len(compounds):,} compounds ({named:,} with a property-management company, " in (
        result.stdout
    )
    assert f"{len(COMPANIES)} companies)" in result.stdout
