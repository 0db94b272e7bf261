"""Reading the admin-unit registry file: every problem in a broken file is found and listed,
each with the feature it is in and how to fix it (pipeline/geo/registry_file.py)."""

from __future__ import annotations

import pytest

from pipeline.exceptions import RegistryError
from pipeline.geo.registry_file import read_registry


def code(doc: dict, c: str) -> dict:
    return next(f for f in doc["features"] if f["properties"]["code"] == c)


def problems_of(doc: dict, **options) -> str:
    with pytest.raises(RegistryError) as err:
        read_registry(doc, **options)
    return str(err.value)


# --- validation ----------------------------------------------------------------------------------


def test_unknown_level_names_the_feature_and_the_allowed_levels(city_doc):
    code(city_doc, "D1S1C1G2")["properties"]["level"] = "block"
    msg = problems_of(city_doc)
    assert "(code 'D1S1C1G2'): unknown level 'block'" in msg
    assert "district, street, community, grid, compound, station" in msg


def test_missing_code(city_doc):
    del city_doc["features"][3]["properties"]["code"]
    assert "features[3]: missing code; set properties.code" in problems_of(city_doc)


def test_duplicate_code_points_at_the_first_use(city_doc):
    first = city_doc["features"].index(code(city_doc, "D1S1C1G2"))
    code(city_doc, "D1S1C1G3")["properties"]["code"] = "D1S1C1G2"
    assert f"(grid 'D1S1C1G2'): duplicate code, already used by features[{first}]" in problems_of(
        city_doc
    )


def test_unknown_parent(city_doc):
    code(city_doc, "D1S1C1G2")["properties"]["parent"] = "C404"
    assert (
        "(grid 'D1S1C1G2'): unknown parent 'C404'; set parent to the code of its community"
        in problems_of(city_doc)
    )


def test_parent_at_the_wrong_level(city_doc):
    code(city_doc, "D1S1C1G2")["properties"]["parent"] = "D1S1"
    msg = problems_of(city_doc)
    assert "parent 'D1S1' is a street, but a grid's parent must be a community" in msg


def test_district_with_a_parent_and_street_without_one(city_doc):
    code(city_doc, "D1")["properties"]["parent"] = "D2"
    code(city_doc, "D2S1")["properties"]["parent"] = None
    msg = problems_of(city_doc)
    assert "(district 'D1'): a district has no parent; set parent to null" in msg
    assert "(street 'D2S1'): missing parent; set parent to the code of its district" in msg


def test_invalid_polygon_explains_why(city_doc):
    bowtie = [
        [120.15, 30.25],
        [120.152, 30.252],
        [120.152, 30.25],
        [120.15, 30.252],
        [120.15, 30.25],
    ]
    code(city_doc, "D1S1C1G2")["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}
    msg = problems_of(city_doc)
    assert "(grid 'D1S1C1G2'): invalid polygon (Self-intersection[" in msg


def test_wrong_geometry_type_and_swapped_coordinates(city_doc):
    code(city_doc, "PS1")["geometry"] = code(city_doc, "K1")["geometry"]
    ring = code(city_doc, "K1")["geometry"]["coordinates"][0]
    code(city_doc, "K1")["geometry"]["coordinates"] = [[[lat, lon] for lon, lat in ring]]
    msg = problems_of(city_doc)
    assert "(station 'PS1'): geometry must be a Point, got 'Polygon'" in msg
    assert "(compound 'K1'): coordinates outside WGS84; GeoJSON order is [lon, lat]" in msg


def test_grid_cell_outside_its_community(city_doc):
    # D1S1C1G2 sits at x 250..500 of community D1S1C1; claim it belongs to D1S1C2 (x 500..1000).
    code(city_doc, "D1S1C1G2")["properties"]["parent"] = "D1S1C2"
    msg = problems_of(city_doc)
    assert "(grid 'D1S1C1G2'): 100.0% of the cell lies outside its community 'D1S1C2'" in msg


def test_small_protrusion_and_overlap_are_tolerated_but_large_ones_are_not(city_doc, rect):
    cell = code(city_doc, "D1S1C1G2")  # x 250..500, y 0..500
    cell["geometry"] = rect(250, 0, 501, 500)  # 1 m (0.4 %) into the next community
    assert len(read_registry(city_doc)["grid"]) == 33
    cell["geometry"] = rect(250, 0, 550, 500)
    msg = problems_of(city_doc)
    assert "16.7% of the cell lies outside its community 'D1S1C1'" in msg
    assert "(grid 'D1S1C1G2'): overlaps grid cell 'D1S1C2G1'" in msg
    assert "20.0% of the smaller cell; grid cells must not overlap" in msg


def test_grid_cells_without_any_station_are_errors(city_doc):
    del code(city_doc, "D1S1")["properties"]["station_id"]
    msg = problems_of(city_doc)
    assert "has 9 problem(s)" in msg  # every cell of that street
    assert "(grid 'D1S1C1T1'): no responsible station on the cell or any parent" in msg


def test_station_id_must_name_a_station_feature(city_doc):
    code(city_doc, "D2S1")["properties"]["station_id"] = "PS77"
    assert "(street 'D2S1'): station_id 'PS77' names no station Feature" in problems_of(city_doc)


def test_a_compound_names_its_company_or_none(city_doc):
    code(city_doc, "K1")["properties"]["company"] = "Vanke Property"
    compounds = read_registry(city_doc)["compound"]
    assert dict(zip(compounds.codes, compounds.company, strict=True)) == {
        "K1": "Vanke Property",
        "K2": "",  # none named: an unknown company, not an error
    }
    assert set(read_registry(city_doc)["grid"].company) == {""}


def test_company_must_be_a_string_and_only_on_compounds(city_doc):
    code(city_doc, "K1")["properties"]["company"] = 42
    code(city_doc, "D1S1C1G2")["properties"]["company"] = "Vanke Property"
    msg = problems_of(city_doc)
    assert "(compound 'K1'): company 42 is not a string; write it as a JSON string" in msg
    assert (
        "(grid 'D1S1C1G2'): only compounds have a property-management company; remove company"
        in msg
    )


def test_all_problems_are_collected_and_the_list_is_capped(city_doc):
    cells = [f for f in city_doc["features"] if f["properties"]["level"] == "grid"]
    for f in cells[:25]:  # nothing refers to grid cells, so no follow-on problems
        f["properties"]["level"] = "nonsense"
    lines = problems_of(city_doc).splitlines()
    assert lines[0] == "admin-unit registry <dict> has 25 problem(s):"
    assert len([ln for ln in lines if ln.startswith("  - ")]) == 20
    assert lines[-1] == "  ... and 5 more (`hotspot registry check` lists all)"
    everything = problems_of(city_doc, max_listed=None).splitlines()
    assert len([ln for ln in everything if ln.startswith("  - ")]) == 25
    assert "more" not in everything[-1]


def test_unreadable_sources_raise_registry_errors(tmp_path):
    with pytest.raises(RegistryError, match="cannot read"):
        read_registry(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(RegistryError, match="not valid JSON"):
        read_registry(bad)
    with pytest.raises(RegistryError, match="FeatureCollection"):
        read_registry({"type": "Feature"})
    with pytest.raises(RegistryError, match="no grid cells"):
        read_registry({"type": "FeatureCollection", "features": []})
