"""The camera inventory file (:mod:`pipeline.cameras`): every bad row named at once, cameras
placed in the registry's units, loads idempotent, found beside the registry by default."""

from __future__ import annotations

import pytest

from jobs.runtime import store_camera_inventory
from pipeline.cameras import load_cameras, parse_cameras
from pipeline.exceptions import CameraInventoryError
from pipeline.geo.admin_units import load_registry
from pipeline.settings import Settings
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse


def test_every_bad_row_is_listed_at_once():
    data = (
        b"camera_id,lat,lon,installed_at\n"
        b"c1,30.2,120.1,2026-11-01\n"
        b",30.2,120.1,\n"
        b"c2,95,120.1,\n"
        b"c1,30.2,120.1,\n"
        b"c3,30.2,120.1,yesterday\n"
    )
    with pytest.raises(CameraInventoryError) as caught:
        parse_cameras(data, "cams.csv")
    message = str(caught.value)
    assert "cams.csv: 4 problem(s)" in message
    for expected in (
        "line 3: no camera_id",
        "line 4: lat/lon missing or out of range",
        "line 2: camera_id repeated",
        "line 6: installed_at is not an ISO 8601 date or time",
    ):
        assert expected in message


def test_a_file_without_the_required_columns_says_which():
    with pytest.raises(CameraInventoryError, match="lacks the column.*lon"):
        parse_cameras(b"camera_id,lat\nc1,30\n")


def test_cameras_are_placed_in_their_units_and_a_reload_changes_nothing(city, tmp_path):
    registry = load_registry(city.registry)
    wh = EmbeddedWarehouse(tmp_path / "chdb")
    try:
        migrate(wh)
        settings = Settings(registry_path=city.registry, data_dir=tmp_path)
        assert settings.resolved_cameras_path == city.registry.with_name("cameras.csv")
        first = store_camera_inventory(settings, registry, wh)
        load_cameras(settings.resolved_cameras_path, registry, wh)
        rows = wh.query(
            "SELECT count(), countIf(district_code = ''), countIf(grid_code = '') "
            "FROM hotspot.cameras FINAL"
        )
        assert first > 0 and rows == [(first, 0, 0)]
        (tmp_path / "far.csv").write_text("camera_id,lat,lon\nfar-1,10.0,10.0\n")
        with pytest.raises(CameraInventoryError, match="far-1"):
            load_cameras(tmp_path / "far.csv", registry, wh)
    finally:
        wh.close()


def test_without_a_cameras_file_there_is_no_inventory(tmp_path):
    settings = Settings(registry_path=tmp_path / "registry.geojson", data_dir=tmp_path)
    assert settings.resolved_cameras_path is None
