"""The camera online rate (``camera_health``) against cameras whose outages are known exactly:
its panel SQL runs on chDB over the migrated schema, with the inventory loaded from a cameras
file and the notices inserted as alerts (the materialized view files them in
``camera_status``), as a worker leaves them.

Issue 22's cases: a camera dark for 2 days, and one dark for 10 days (silent since, so the
old panel, which knew only cameras seen in the last 7 days and looked back 1 day for an
``offline`` notice, counted neither)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipeline.cameras import load_cameras
from pipeline.dashboards import ALL, QueryContext, expand
from pipeline.dashboards.builder import DASHBOARD_DIR
from pipeline.geo.admin_units import load_registry
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse

DASHBOARD = json.loads((DASHBOARD_DIR / "hotspot-camera-health.json").read_text())
END = datetime(2026, 11, 30, tzinfo=UTC)
START = END - timedelta(days=30)
DAY = timedelta(days=1)


def panel_sql(title: str, district=ALL) -> str:
    panel = next(p for p in DASHBOARD["panels"] if p["title"] == title)
    ctx = QueryContext(START, END, interval_s=3600, variables={"district": district})
    return expand(panel["targets"][0]["rawSql"], ctx)


def notice(camera: str, district: str, at: datetime, category: str) -> dict:
    return {"camera_id": camera, "district_code": district, "event_time": at, "category": category}


@pytest.fixture(scope="module")
def wh(tmp_path_factory, city):
    """40 cameras of the simulated city's registry: 20 in its first district, 20 in another."""
    registry = load_registry(city.registry)
    lines = city.registry.with_name("cameras.csv").read_text().splitlines()
    folder = tmp_path_factory.mktemp("cameras")
    warehouse = EmbeddedWarehouse(folder / "chdb")
    migrate(warehouse)
    warehouse.execute("USE hotspot")  # Grafana's data source names the database; panels do not
    load_cameras(city.registry.with_name("cameras.csv"), registry, warehouse)
    placed = warehouse.query_columns("SELECT camera_id, district_code FROM cameras ORDER BY 1")
    by_district: dict[str, list[str]] = {}
    for camera, district in zip(placed["camera_id"], placed["district_code"], strict=True):
        by_district.setdefault(district, []).append(camera)
    d1, d2 = sorted(d for d, c in by_district.items() if len(c) >= 20)[:2]
    chosen = {*by_district[d1][:20], *by_district[d2][:20]}
    rows = [line for line in lines[1:] if line.split(",")[0] in chosen]
    (folder / "cameras.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    warehouse.execute("TRUNCATE TABLE hotspot.cameras")
    load_cameras(folder / "cameras.csv", registry, warehouse)
    yield warehouse, by_district[d1][:20], by_district[d2][:20], (d1, d2)
    warehouse.close()


def insert_notices(warehouse, notices: list[dict]) -> None:
    """As the alerts sink writes them: rows of ``alerts`` (the view copies the notices)."""
    n = len(notices)
    warehouse.insert(
        "alerts",
        {
            "alert_id": [f"a{k}" for k in range(n)],
            "source": ["camera"] * n,
            "event_time": np.array([x["event_time"].timestamp() * 1000 for x in notices])
            .astype(np.int64)
            .astype("datetime64[ms]"),
            "category": [x["category"] for x in notices],
            "camera_id": [x["camera_id"] for x in notices],
            "district_code": [x["district_code"] for x in notices],
        },
    )


def test_dark_cameras_lower_the_rate_by_exactly_their_share(wh):
    warehouse, first, second, (d1, d2) = wh
    a, b, c = first[0], first[1], second[0]
    insert_notices(
        warehouse,
        [
            # a: dark for 2 days in the middle of the range
            notice(a, d1, START + 10 * DAY, "offline"),
            notice(a, d1, START + 12 * DAY, "online"),
            # b: dark for the range's last 10 days, silent since
            notice(b, d1, END - 10 * DAY, "offline"),
            # c: went dark 5 days before the range began, back 3 days into it
            notice(c, d2, START - 5 * DAY, "offline"),
            notice(c, d2, START + 3 * DAY, "online"),
            # an online notice of a camera outside the range's districts changes nothing
            notice(second[1], d2, START + DAY, "online"),
        ],
    )
    city = warehouse.query_columns(panel_sql("City-wide online rate"))
    assert city["cameras"] == [40]
    assert city["online_rate"] == [round(1 - (2 + 10 + 3) / (40 * 30), 6)]  # 0.9875
    per_district = warehouse.query_columns(panel_sql("Online rate per district (target 95%)"))
    assert per_district["district_code"] == sorted([d1, d2])
    rates = dict(zip(per_district["district_code"], per_district["online_rate"], strict=True))
    assert rates == {d1: round(1 - 12 / 600, 6), d2: round(1 - 3 / 600, 6)}
    one = warehouse.query_columns(panel_sql("City-wide online rate", district=d2))
    assert one == {"cameras": [20], "online_rate": [round(1 - 3 / 600, 6)]}
    offline_now = warehouse.query_columns(panel_sql("Cameras offline now"))
    assert offline_now["offline_now"] == [1]  # b, dark for 10 days


def test_a_camera_counts_only_while_in_service(wh, tmp_path, city):
    """Installed 20 days into the range and dark for its last 5 of 10: 5 of its 10 days."""
    warehouse, first, _, (d1, _d2) = wh
    registry = load_registry(city.registry)
    lat, lon, district = warehouse.query(
        f"SELECT lat, lon, district_code FROM cameras FINAL WHERE camera_id = '{first[2]}'"
    )[0]
    assert district == d1
    installed = (START + 20 * DAY).strftime("%Y-%m-%dT%H:%M:%S")
    retired = (START - 60 * DAY).strftime("%Y-%m-%d")
    (tmp_path / "more.csv").write_text(
        "camera_id,lat,lon,installed_at,retired_at\n"
        f"new-1,{lat},{lon},{installed},\n"
        f"old-1,{lat},{lon},,{retired}\n"  # retired before the range: not counted
    )
    load_cameras(tmp_path / "more.csv", registry, warehouse)
    before = warehouse.query_columns(panel_sql("City-wide online rate"))
    insert_notices(warehouse, [notice("new-1", d1, END - 5 * DAY, "offline")])
    after = warehouse.query_columns(panel_sql("City-wide online rate"))
    assert after["cameras"] == before["cameras"] == [41]
    # camera-days: 40 * 30 + 10 in service; down: the 15 of the first test, then 5 more
    assert before["online_rate"] == [round(1 - 15 / 1210, 6)]
    assert after["online_rate"] == [round(1 - 20 / 1210, 6)]
