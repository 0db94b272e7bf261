"""A 1 km x 1 km registry in Shanghai for unit tests: one district and street (station PS1),
two communities, four grid cells C1G1..C2G2. With ``second_station`` the cell C2G2 names its
own station PS2, to test that a cell's station overrides its street's."""

from __future__ import annotations

import shapely

LON0, LAT0, STEP = 121.40, 31.20, 0.005


def _feature(code, level, parent, geometry, station=None):
    props = {"code": code, "name": code, "level": level, "parent": parent}
    if station:
        props["station_id"] = station
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _box(i0, j0, i1, j1):
    return shapely.geometry.mapping(
        shapely.box(LON0 + i0 * STEP, LAT0 + j0 * STEP, LON0 + i1 * STEP, LAT0 + j1 * STEP)
    )


def tiny_city(second_station: bool = False) -> dict:
    feats = [
        _feature("D1", "district", None, _box(0, 0, 2, 2)),
        _feature("S1", "street", "D1", _box(0, 0, 2, 2), "PS1"),
        _feature("PS1", "station", "S1", {"type": "Point", "coordinates": [121.405, 31.205]}),
    ]
    if second_station:
        feats.append(
            _feature("PS2", "station", "S1", {"type": "Point", "coordinates": [121.408, 31.208]})
        )
    for c in range(2):
        feats.append(_feature(f"C{c + 1}", "community", "S1", _box(c, 0, c + 1, 2)))
        for g in range(2):
            station = "PS2" if second_station and (c, g) == (1, 1) else None
            cell = _box(c, g, c + 1, g + 1)
            feats.append(_feature(f"C{c + 1}G{g + 1}", "grid", f"C{c + 1}", cell, station))
    return {"type": "FeatureCollection", "features": feats}
