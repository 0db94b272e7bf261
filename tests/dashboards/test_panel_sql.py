"""Every panel of every committed dashboard runs on chDB against the migrated schema filled by a
simulated city, with Grafana's macros expanded for a real time range, and returns the columns
its panel type needs."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from pipeline.dashboards import ALL, QueryContext
from pipeline.dashboards.builder import DASHBOARD_DIR
from pipeline.dashboards.preview import preview_dashboard

DASHBOARDS = {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}

# Panels a three-hour city cannot fill: nothing is 30 h old, there is one rated month.
EMPTY_IN_A_SHORT_CITY = {
    ("hotspot-grid-reports", "Open past 30 h"),
    ("hotspot-compounds", "Red two months running"),
    ("hotspot-pipeline-health", "Late alerts by feed"),  # a backfill's windows wait for all
    # trends need ten days or more of history (tests/trends/test_daily.py fills this panel)
    ("hotspot-units", "Grid cell trends (emerging hot spots), latest classified day"),
}


def _context(cw, **variables) -> QueryContext:
    return QueryContext(
        cw.start,
        cw.snapshot,
        interval_s=60,
        variables={"district": ALL, "source": ALL, **variables},
    )


def _problems(results) -> list[str]:
    return [f"{r.panel} [{r.ref}]: {p}\n    {r.sql[:300]}" for r in results for p in r.problems]


def test_there_are_seven_dashboards():
    assert set(DASHBOARDS) == {
        "hotspot-notice-receipt",
        "hotspot-pipeline-health",
        "hotspot-command-centre",
        "hotspot-units",
        "hotspot-camera-health",
        "hotspot-grid-reports",
        "hotspot-compounds",
    }


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_panel_runs_and_fits_its_type_with_all_selected(city_warehouse, uid):
    results = preview_dashboard(city_warehouse.warehouse, DASHBOARDS[uid], _context(city_warehouse))
    assert results and not _problems(results), "\n".join(_problems(results))
    empty = {(uid, r.panel) for r in results if r.rows == 0}
    assert empty <= EMPTY_IN_A_SHORT_CITY, f"panels without rows: {sorted(empty)}"


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_panel_runs_with_one_district_and_two_feeds(city_warehouse, uid):
    ctx = _context(city_warehouse, district="D01", source=["camera", "dispatch_110"])
    results = preview_dashboard(city_warehouse.warehouse, DASHBOARDS[uid], ctx)
    assert not _problems(results), "\n".join(_problems(results))


def _rows(cw, uid: str, title: str, ctx: QueryContext | None = None) -> dict[str, list]:
    from pipeline.dashboards import expand

    panel = next(p for p in DASHBOARDS[uid]["panels"] if p["title"] == title)
    return cw.warehouse.query_columns(expand(panel["targets"][0]["rawSql"], ctx or _context(cw)))


def test_district_filter_keeps_only_that_district(city_warehouse):
    ctx = _context(city_warehouse, district="D02")
    rows = _rows(
        city_warehouse, "hotspot-camera-health", "Online rate per district (target 95%)", ctx
    )
    assert rows["district_code"] == ["D02"]
    everything = _rows(
        city_warehouse, "hotspot-camera-health", "Online rate per district (target 95%)"
    )
    assert everything["district_code"] == sorted(everything["district_code"])
    assert len(everything["district_code"]) == len(city_warehouse.registry.districts)


def test_city_online_rate_matches_the_notices(city_warehouse):
    """Camera-time online, recomputed from the offline/online notices with NumPy, over every
    camera of the inventory (the simulated city's cameras file), silent ones included."""
    cw = city_warehouse
    db = cw.warehouse
    lo, hi = cw.start.timestamp() * 1000, cw.snapshot.timestamp() * 1000
    cameras = db.query_columns("SELECT camera_id FROM cameras FINAL")["camera_id"]
    speaking = db.query("SELECT uniqExact(camera_id) FROM alerts WHERE source = 'camera'")
    assert speaking[0][0] < len(cameras)  # the alerts alone would miss the silent ones
    notes = db.query_columns(
        "SELECT camera_id, toUnixTimestamp64Milli(event_time) AS ms, category FROM alerts FINAL "
        "WHERE source = 'camera' AND category IN ('offline', 'online') "
        "ORDER BY camera_id, event_time"
    )
    cam = np.array(notes["camera_id"], dtype=object)
    ms = np.array(notes["ms"], dtype=np.float64)
    same_next = np.append(cam[1:] == cam[:-1], False)
    t_next = np.where(same_next, np.append(ms[1:], hi), hi)
    down = np.array(notes["category"]) == "offline"
    seconds = np.clip(np.minimum(t_next, hi) - np.maximum(ms, lo), 0, None)[down].sum() / 1000
    expected = 1 - seconds / (len(cameras) * int((hi - lo) / 1000))
    assert seconds > 0
    got = _rows(cw, "hotspot-camera-health", "City-wide online rate")
    assert got["cameras"] == [len(cameras)]
    assert got["online_rate"][0] == pytest.approx(expected, abs=1e-4)


def test_previous_period_counts_the_same_length_before_the_range(city_warehouse):
    cw = city_warehouse
    mid = cw.start + (cw.snapshot - cw.start) / 2
    ctx = QueryContext(mid, cw.snapshot, variables={"district": ALL})
    rows = _rows(cw, "hotspot-units", "Top communities: incidents vs previous period", ctx)
    span = (cw.snapshot - mid) // timedelta(seconds=1)
    lo, hi = int(mid.timestamp()), int(cw.snapshot.timestamp())

    def counts(a: int, b: int, inclusive: bool) -> dict[str, int]:
        op = "<=" if inclusive else "<"
        found = cw.warehouse.query(
            f"SELECT community_code, count() FROM incidents FINAL WHERE community_code != '' "
            f"AND first_time >= toDateTime({a}) AND first_time {op} toDateTime({b}) "
            "GROUP BY community_code"
        )
        return dict(found)

    current, previous = counts(lo, hi, True), counts(lo - span, lo, False)
    assert current and previous
    shown = list(zip(rows["community"], rows["incidents"], rows["previous"], strict=True))
    assert len(shown) == min(25, len(current.keys() | previous.keys()))
    for code, n, before in shown:
        assert (n, before) == (current.get(code, 0), previous.get(code, 0))
    assert rows["incidents"] == sorted(rows["incidents"], reverse=True)
    hidden = set(current) - set(rows["community"])
    assert all(current[code] <= rows["incidents"][-1] for code in hidden)


def test_open_flags_name_their_station_and_community(city_warehouse):
    rows = _rows(city_warehouse, "hotspot-command-centre", "Open flags")
    assert rows["flag"], "the snapshot is taken while the planted hotspot is flagged"
    assert all(rows["station"]) and all(rows["station_name"])
    assert all(rows["community"]) and all(rows["community_name"])


def test_time_to_resolve_pairs_each_report_with_its_resolution(city_warehouse):
    """Median hours per interval, recomputed from the grid-report steps with NumPy."""
    cw = city_warehouse
    steps = cw.warehouse.query_columns(
        "SELECT report_ref, status, toUnixTimestamp64Milli(event_time) AS ms FROM alerts FINAL "
        "WHERE source = 'grid_report' AND report_ref != ''"
    )
    ref = np.array(steps["report_ref"], dtype=object)
    status = np.array(steps["status"], dtype=object)
    ms = np.array(steps["ms"], dtype=np.int64)
    reported = dict(zip(ref[status == "reported"], ms[status == "reported"], strict=True))
    resolved = {}
    for r, t in zip(ref[status == "resolved"], ms[status == "resolved"], strict=True):
        resolved[r] = min(t, resolved.get(r, t))
    hours = sorted((resolved[r] - reported[r]) // 1000 / 3600 for r in resolved if r in reported)
    assert hours, "the city resolves some reports within its three hours"
    ctx = QueryContext(cw.start, cw.snapshot, interval_s=6 * 3600, variables={"district": ALL})
    rows = _rows(cw, "hotspot-grid-reports", "Time to resolve (target 30 h)", ctx)
    assert len(rows["time"]) == 1  # one six-hour interval covers the whole range
    assert rows["median_hours"][0] == pytest.approx(float(np.quantile(hours, 0.5)), abs=0.02)
    share = _rows(cw, "hotspot-grid-reports", "Resolved within 30 h", ctx)["within_target"]
    assert share == [1.0]  # the simulator resolves within hours


def test_alerts_per_minute_add_up_to_the_alerts_in_range(city_warehouse):
    cw = city_warehouse
    rows = _rows(cw, "hotspot-command-centre", "Alerts per minute by feed")
    total = cw.warehouse.query(
        f"SELECT count() FROM alerts FINAL WHERE event_time >= toDateTime("
        f"{int(cw.start.timestamp())}) AND event_time <= toDateTime({int(cw.snapshot.timestamp())})"
    )[0][0]
    assert sum(rows["alerts_per_minute"]) == pytest.approx(total)  # 60 s interval: per minute
    assert {"dispatch_110", "camera", "grid_report"} <= set(rows["source"])
