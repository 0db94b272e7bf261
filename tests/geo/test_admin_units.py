"""Admin-unit registry: loading, point → unit lookup, output columns (the checks of the file
itself are in test_registry_file.py)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import shapely
import shapely.geometry
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geo.admin_lookup import BOUNDARY, PolygonLocator, _mark_rings, _read_raster
from pipeline.geo.admin_units import AdminRegistry, load_registry

# --- helpers ------------------------------------------------------------------------------------


def reference_polygons(doc: dict, level: str) -> np.ndarray:
    """The level's polygons rebuilt from the document, in registry order (sorted by code)."""
    feats = sorted(
        (f for f in doc["features"] if f["properties"]["level"] == level),
        key=lambda f: f["properties"]["code"],
    )
    return np.array([shapely.geometry.shape(f["geometry"]) for f in feats], dtype=object)


def brute_force(polygons: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Lowest index of a polygon covering each point, by testing every polygon."""
    hit = shapely.intersects(polygons[:, None], shapely.points(lon, lat)[None, :])
    return np.where(hit.any(axis=0), hit.argmax(axis=0), -1)


def probe_points(polygons: np.ndarray, n_random: int, seed: int) -> tuple[np.ndarray, ...]:
    """Uniform points around the polygons plus points on and near every edge and vertex."""
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = shapely.total_bounds(polygons)
    pad_lon, pad_lat = 0.05 * (lon1 - lon0), 0.05 * (lat1 - lat0)
    lon = [rng.uniform(lon0 - pad_lon, lon1 + pad_lon, n_random)]
    lat = [rng.uniform(lat0 - pad_lat, lat1 + pad_lat, n_random)]
    rings = shapely.get_rings(shapely.get_parts(polygons))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    a, b = xy[:-1][same], xy[1:][same]
    for t in (0.0, 0.1, 0.5, 0.77):  # vertices and points along (or within rounding of) edges
        p = a + t * (b - a)
        lon.append(p[:, 0])
        lat.append(p[:, 1])
    for d in (1e-12, 1e-9, 1e-7):  # just off the vertices, in eight directions
        for dx, dy in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)]:
            lon.append(a[:, 0] + dx * d)
            lat.append(a[:, 1] + dy * d)
    return np.concatenate(lat), np.concatenate(lon)


@pytest.fixture
def city(city_doc) -> AdminRegistry:
    return load_registry(city_doc)


def code(doc: dict, c: str) -> dict:
    return next(f for f in doc["features"] if f["properties"]["code"] == c)


# --- loading and structure ------------------------------------------------------------------


def test_levels_are_sorted_by_code_and_linked_to_their_parents(city):
    assert [
        len(getattr(city, n))
        for n in ("districts", "streets", "communities", "grids", "compounds", "stations")
    ] == [2, 4, 8, 33, 2, 5]
    assert list(city.grids.codes) == sorted(city.grids.codes)
    assert city.grids.codes[:5].tolist() == [
        "D1S1C1G2",
        "D1S1C1G3",
        "D1S1C1G4",
        "D1S1C1T1",
        "D1S1C1T2",
    ]
    # Codes encode the hierarchy, so every parent link can be checked by prefix.
    for i, c in enumerate(city.grids.codes):
        assert city.communities.codes[city.grid_community[i]] == c[:6]
        assert city.streets.codes[city.grid_street[i]] == c[:4]
        assert city.districts.codes[city.grid_district[i]] == c[:2]
    assert city.districts.parent.tolist() == [-1, -1]
    assert city.compounds.codes.tolist() == ["K1", "K2"]
    assert city.communities.codes[city.compounds.parent].tolist() == ["D1S1C2", "D2S2C1"]
    assert city.grid_community.dtype == np.int32 and city.grid_district.dtype == np.int32


def test_stations_are_inherited_from_the_street_unless_the_cell_names_its_own(city):
    station = dict(zip(city.grids.codes, city.grids.station_id, strict=True))
    assert station["D1S1C1T1"] == "PS1"
    assert station["D2S1C2G4"] == "PS3"
    assert station["D2S2C2G3"] == "PS4"
    assert station["D2S2C2G4"] == "PS9"  # set on the cell itself
    assert city.compounds.station_id.tolist() == ["PS1", "PS4"]
    assert city.stations.parent[city.stations.index_of("PS9")].tolist() == [-1]


def test_loading_from_a_file_matches_loading_from_a_dict(city_doc, tmp_path):
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps(city_doc))
    from_file = load_registry(path)
    from_dict = load_registry(city_doc)
    assert from_file.grids.codes.tolist() == from_dict.grids.codes.tolist()
    assert np.array_equal(from_file.grid_centroid_lat, from_dict.grid_centroid_lat)
    assert load_registry(str(path)).bbox == from_dict.bbox


def test_feature_order_does_not_change_indices(city_doc, city):
    city_doc["features"].reverse()
    again = load_registry(city_doc)
    assert again.grids.codes.tolist() == city.grids.codes.tolist()
    assert np.array_equal(again.grid_street, city.grid_street)


def test_registry_is_immutable(city):
    with pytest.raises(dataclasses.FrozenInstanceError):
        city.resolution_m = 5.0
    for arr in (city.grids.codes, city.grids.parent, city.grid_district, city.grid_centroid_lat):
        with pytest.raises(ValueError):
            arr[0] = arr[1]


def test_bbox_is_min_lat_min_lon_max_lat_max_lon(city):
    min_lat, min_lon, max_lat, max_lon = city.bbox
    assert (min_lat, min_lon) == (30.25, 120.15)
    assert max_lat == pytest.approx(30.25 + 2000 / 111_195.08, abs=1e-9)
    assert max_lon > min_lon + 0.02


def test_grid_index_of_returns_minus_one_for_unknown_codes(city):
    idx = city.grid_index_of(np.array(["D1S1C1T2", "nope", "D2S2C2G4", "", "D1"]))
    assert idx.dtype == np.int32
    assert idx.tolist() == [4, -1, 32, -1, -1]
    assert city.grid_index_of(["D1S1C1G2"]).tolist() == [0]
    assert city.grid_index_of(np.array([], dtype=str)).tolist() == []


def test_centroids_fall_in_their_own_cell(city):
    n = len(city.grids)
    assert city.locate(city.grid_centroid_lat, city.grid_centroid_lon).tolist() == list(range(n))
    tri = city.grid_index_of(["D1S1C1T1"])[0]
    # Right triangle with legs 250 m east and 500 m north: centroid at (2/3, 1/3) of the legs.
    ref = shapely.centroid(city.grids.geometry[tri])
    assert city.grid_centroid_lon[tri] == pytest.approx(ref.x, abs=1e-12)
    assert city.grid_centroid_lat[tri] == pytest.approx(ref.y, abs=1e-12)


def test_concave_cell_gets_a_label_point_inside_it():
    u_shape = [
        (0, 0),
        (0.003, 0),
        (0.003, 0.003),
        (0.002, 0.003),
        (0.002, 0.001),
        (0.001, 0.001),
        (0.001, 0.003),
        (0, 0.003),
    ]
    ring = [[120 + x, 30 + y] for x, y in u_shape]
    doc = _one_cell_doc({"type": "Polygon", "coordinates": [ring + ring[:1]]})
    reg = load_registry(doc)
    inside = shapely.contains_xy(
        reg.grids.geometry[0], reg.grid_centroid_lon, reg.grid_centroid_lat
    )
    assert inside.tolist() == [True]


def _one_cell_doc(geometry: dict) -> dict:
    big = shapely.geometry.mapping(shapely.box(119.9, 29.9, 120.1, 30.1))

    def f(c, level, parent, geom, station=None):
        return {
            "type": "Feature",
            "geometry": geom,
            "properties": {
                "code": c,
                "name": c,
                "level": level,
                "parent": parent,
                "station_id": station,
            },
        }

    return {
        "type": "FeatureCollection",
        "features": [
            f("D", "district", None, big),
            f("S", "street", "D", big, "P"),
            f("C", "community", "S", big),
            f("G", "grid", "C", geometry),
        ],
    }


# --- point lookup ----------------------------------------------------------------------------


@pytest.mark.parametrize("resolution_m", [3.0, 20.0, 400.0])
def test_locate_equals_brute_force_everywhere(city_doc, resolution_m):
    reg = load_registry(city_doc, resolution_m=resolution_m)
    polygons = reference_polygons(city_doc, "grid")
    lat, lon = probe_points(polygons, 20_000, seed=1)
    got = reg.locate(lat, lon)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, brute_force(polygons, lat, lon))


def test_shared_edges_and_vertices_go_to_the_lowest_index(city):
    g = city.grid_index_of
    t1, t2 = g(["D1S1C1T1", "D1S1C1T2"]).tolist()
    assert (t1, t2) == (3, 4)
    tri = shapely.get_coordinates(city.grids.geometry[t1])  # (0, 0), (250, 0), (250, 500) m
    # The city corner is shared by the two triangles only; the diagonal's top end by five cells.
    lat, lon = tri[[0, 2], 1], tri[[0, 2], 0]
    assert city.locate(lat, lon).tolist() == [t1, 0]
    assert shapely.intersects(city.grids.geometry[[0, t2]], shapely.Point(tri[2])).all()
    # The corner of D1S1C1G2, D1S1C1G4, D1S1C2G1 and D1S1C2G3 (x 500 m, y 500 m).
    corner = shapely.get_coordinates(city.grids.geometry[g(["D1S1C2G3"])[0]])[0]
    assert city.locate(corner[1:], corner[:1]).tolist() == [0]


def test_multipolygon_cells_with_holes_equal_brute_force():
    holed = shapely.box(120.0, 30.0, 120.004, 30.004).difference(
        shapely.box(120.001, 30.001, 120.003, 30.003)
    )
    cell = shapely.MultiPolygon([holed, shapely.box(120.005, 30.0, 120.006, 30.001)])
    reg = load_registry(_one_cell_doc(shapely.geometry.mapping(cell)), resolution_m=15.0)
    lat, lon = probe_points(np.array([cell]), 5_000, seed=6)
    got = reg.locate(lat, lon)
    np.testing.assert_array_equal(got, brute_force(np.array([cell]), lat, lon))
    in_hole, in_second_part = (30.002, 120.002), (30.0005, 120.0055)
    lat, lon = np.array([in_hole, in_second_part]).T
    assert reg.locate(lat, lon).tolist() == [-1, 0]


def test_points_off_the_grid_and_nan_are_minus_one(city):
    lat = np.array([0.0, 30.26, np.nan, 30.26, 45.0])
    lon = np.array([0.0, 120.16, 120.16, np.nan, 120.16])
    assert city.locate(lat, lon).tolist() == [-1, city.locate(lat[1:2], lon[1:2])[0], -1, -1, -1]
    assert city.locate(lat[1:2], lon[1:2])[0] >= 0
    assert city.locate(np.empty(0), np.empty(0)).tolist() == []


def test_locate_rejects_mismatched_inputs(city):
    with pytest.raises(ValueError, match="same length"):
        city.locate(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="positive"):
        load_registry(
            _one_cell_doc(shapely.geometry.mapping(shapely.box(120, 30, 120.01, 30.01))),
            resolution_m=0.0,
        )


def test_locate_compound_equals_brute_force_and_is_minus_one_between_compounds(city_doc, city):
    polygons = reference_polygons(city_doc, "compound")
    lat, lon = probe_points(reference_polygons(city_doc, "grid"), 20_000, seed=2)
    plat, plon = probe_points(polygons, 0, seed=3)
    lat, lon = np.concatenate([lat, plat]), np.concatenate([lon, plon])
    got = city.locate_compound(lat, lon)
    np.testing.assert_array_equal(got, brute_force(polygons, lat, lon))
    assert (got == -1).mean() > 0.9  # compounds cover ~2.5 % of the city
    assert set(np.unique(got).tolist()) == {-1, 0, 1}


def test_locate_on_a_jittered_1600_cell_city_equals_brute_force(jittered_city):
    doc = jittered_city(n=40)
    reg = load_registry(doc)
    assert len(reg.grids) == 1600
    polygons = reference_polygons(doc, "grid")
    lat, lon = probe_points(polygons, 3_000, seed=4)
    keep = np.random.default_rng(5).random(lat.size) < 0.1  # a sample of the edge probes
    keep[:3_000] = True
    lat, lon = lat[keep], lon[keep]
    np.testing.assert_array_equal(reg.locate(lat, lon), brute_force(polygons, lat, lon))


def centre_by_centre(loc: PolygonLocator) -> np.ndarray:
    """The raster as the lookup filled it before regions (2026-12-06): every cell no edge
    reaches gets the lowest index of a polygon whose interior holds the cell's centre."""
    frame, raster = loc.frame, loc.raster
    rows, cols = np.nonzero(raster != BOUNDARY)
    lat = frame[0] + (rows + 0.5) / frame[2]
    lon = frame[1] + (cols + 0.5) / frame[3]
    inside = shapely.contains_xy(loc.polygons[:, None], lon[None, :], lat[None, :])
    expected = raster.copy()
    expected[rows, cols] = np.where(inside.any(axis=0), inside.argmax(axis=0), -1)
    return expected


def test_raster_of_a_jittered_city_equals_testing_every_cell_centre(jittered_city):
    loc = load_registry(jittered_city(n=12))._grid_locator
    assert (loc.raster >= 0).sum() > 0.5 * loc.raster.size  # the interiors were filled
    np.testing.assert_array_equal(loc.raster, centre_by_centre(loc))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 0.004), st.floats(0.0, 0.004), st.floats(0.0005, 0.003), st.booleans()
        ),
        min_size=1,
        max_size=6,
    )
)
def test_raster_of_overlapping_polygons_with_holes_equals_testing_every_cell_centre(boxes):
    """Overlaps (the lowest index wins), holes, and regions split by other polygons' edges."""
    polygons = []
    for x, y, size, holed in boxes:
        outer = shapely.box(120.0 + x, 30.0 + y, 120.0 + x + size, 30.0 + y + size)
        hole = shapely.box(
            120.0 + x + size / 3, 30.0 + y + size / 3, 120.0 + x + size / 2, 30.0 + y + size / 2
        )
        polygons.append(outer.difference(hole) if holed else outer)
    loc = PolygonLocator.build(np.array(polygons, dtype=object), resolution_m=20.0)
    np.testing.assert_array_equal(loc.raster, centre_by_centre(loc))


# --- kernels ----------------------------------------------------------------------------------


def test_mark_rings_marks_every_cell_an_edge_touches_including_corner_neighbours():
    raster = np.full((3, 4), -1, dtype=np.int32)
    # A diagonal through the cell corner (1, 1), then a horizontal edge of another ring.
    u = np.array([0.5, 2.5, 0.2, 3.5])
    v = np.array([0.5, 2.5, 0.5, 0.5])
    _mark_rings(u, v, np.array([0, 0, 1, 1]), raster, 1e-6)
    expected = np.array(
        [
            [-2, -2, -2, -2],
            [-2, -2, -2, -1],
            [-1, -2, -2, -1],
        ],
        dtype=np.int32,
    )
    np.testing.assert_array_equal(raster, expected)


def test_read_raster_maps_points_to_cells_and_off_raster_to_minus_one():
    raster = np.arange(6, dtype=np.int32).reshape(2, 3)
    frame = np.array([30.0, 120.0, 100.0, 100.0])  # 0.01 degree cells
    lat = np.array([30.005, 30.015, 30.015, 29.999, 30.021, np.nan])
    lon = np.array([120.005, 120.025, 120.0, 120.0, 120.0, 120.0])
    out = np.empty(6, dtype=np.int32)
    _read_raster(lat, lon, frame, raster, out)
    assert out.tolist() == [0, 5, 3, -1, -1, -1]


def test_raster_cells_are_interior_only_where_no_edge_reaches():
    square = shapely.box(120.0, 30.0, 120.01, 30.01)
    loc = PolygonLocator.build(np.array([square]), resolution_m=100.0)
    r = loc.raster
    assert set(np.unique(r).tolist()) <= {-2, -1, 0}
    assert (r[0, :] == -2).all() and (r[:, 0] == -2).all()  # the bbox edges are polygon edges
    assert (r[-1, :] == -2).all() and (r[:, -1] == -2).all()
    assert (r[1:-1, 1:-1] == 0).all()
    assert PolygonLocator.build(np.array([], dtype=object)).locate(
        np.array([30.0]), np.array([120.0])
    ).tolist() == [-1]


# --- output columns ----------------------------------------------------------------------------


def test_unit_columns_look_up_every_level_and_blank_unknown_cells(city):
    idx = np.array([city.grid_index_of(["D2S2C2G4"])[0], -1, 0], dtype=np.int32)
    cols = city.unit_columns(idx)
    assert cols["grid_code"].tolist() == ["D2S2C2G4", "", "D1S1C1G2"]
    assert cols["community_code"].tolist() == ["D2S2C2", "", "D1S1C1"]
    assert cols["street_code"].tolist() == ["D2S2", "", "D1S1"]
    assert cols["district_code"].tolist() == ["D2", "", "D1"]
    assert cols["station_id"].tolist() == ["PS9", "", "PS1"]
    assert all(c.dtype == object for c in cols.values())
    with pytest.raises(ValueError, match=r"\[-1, 32\]"):
        city.unit_columns(np.array([33]))
    with pytest.raises(ValueError, match="integer"):
        city.unit_columns(np.array([1.0]))


def test_compound_columns(city):
    cols = city.compound_columns(np.array([1, -1, 0]))
    assert cols["compound_code"].tolist() == ["K2", "", "K1"]
    assert cols["community_code"].tolist() == ["D2S2C1", "", "D1S1C2"]


def test_units_table_has_one_row_per_unit_with_areas_and_exact_wkt(city_doc, city):
    table = city.units_table()
    assert set(table) == {
        "code",
        "name",
        "level",
        "parent",
        "station_id",
        "centroid_lat",
        "centroid_lon",
        "area_km2",
        "polygon",
    }
    assert {len(c) for c in table.values()} == {len(city_doc["features"])}
    row = {c: i for i, c in enumerate(table["code"])}
    cell, tri, station = row["D1S1C1G2"], row["D1S1C1T1"], row["PS9"]
    assert (table["level"][cell], table["parent"][cell], table["station_id"][cell]) == (
        "grid",
        "D1S1C1",
        "PS1",
    )
    # Areas use each unit's own latitude, the fixture the city's: they differ by ~2e-5.
    assert table["area_km2"][cell] == pytest.approx(0.125, rel=1e-4)
    assert table["area_km2"][tri] == pytest.approx(0.0625, rel=1e-4)
    assert table["area_km2"][row["D1"]] == pytest.approx(2.0, rel=1e-4)
    assert (table["parent"][station], table["area_km2"][station]) == ("", 0.0)
    assert table["name"][row["D1"]] == "district D1"
    for k in (cell, tri, station):
        ref = shapely.geometry.shape(code(city_doc, table["code"][k])["geometry"])
        assert shapely.from_wkt(table["polygon"][k]).equals_exact(ref, 0.0)
