"""The admin-unit registry of the synthetic city as a GeoJSON FeatureCollection (WGS84).

Each Feature's properties: ``code``, ``name``, ``level``, ``parent`` (null for districts; a
station's parent is its street) and ``station_id`` (the responsible station, on every unit
below district level); compounds also name their property-management company (``company``; a
few companies manage several compounds each, and some compounds name none, as in a real
registry where the company is not yet recorded). Coordinates are full-precision floats:
rounding them would open centimetre gaps between neighbours and break exact point-in-unit
lookups at shared edges.
"""

from __future__ import annotations

import json
import zlib
from os import PathLike
from typing import Any

import numpy as np
import shapely

from pipeline.sim.city import City

__all__ = ["COMPANIES", "compound_company", "registry_geojson", "write_cameras", "write_registry"]

#: The simulated city's property-management companies.
COMPANIES: tuple[str, ...] = (
    "Greenland Property Services",
    "Vanke Property",
    "Poly Property Management",
    "Jinke Smart Services",
    "Country Garden Services",
    "Hengda Property",
)


def compound_company(code: str) -> str | None:
    """The company managing a simulated compound, or None (about one in eight names none).

    Drawn from a checksum of the code, not from the city's random streams, so every other
    part of the simulated city (and what was generated from it before) stays the same.

    >>> compound_company("D01S01C01R01") == compound_company("D01S01C01R01")
    True
    """
    draw = zlib.crc32(code.encode()) % (8 * len(COMPANIES))
    return None if draw % 8 == 0 else COMPANIES[draw // 8]


def _to_wgs84(city: City, geom: shapely.Geometry) -> shapely.Geometry:
    def project(xy: np.ndarray) -> np.ndarray:
        lat, lon = city.to_latlon(xy)
        return np.column_stack([lon, lat])  # GeoJSON order

    return shapely.transform(geom, project)


def registry_geojson(city: City) -> dict[str, Any]:
    """The registry as a GeoJSON-ready dict, features in hierarchy order."""
    u = city.units
    features = []
    for i in range(len(u.code)):  # loop per admin unit (a few thousand), not per event
        props: dict[str, Any] = {
            "code": str(u.code[i]),
            "name": str(u.name[i]),
            "level": str(u.level[i]),
            "parent": str(u.code[u.parent[i]]) if u.parent[i] >= 0 else None,
        }
        if u.station[i] >= 0:
            props["station_id"] = str(u.code[u.station[i]])
        if u.level[i] == "compound" and (company := compound_company(str(u.code[i]))):
            props["company"] = company
        geometry = shapely.geometry.mapping(_to_wgs84(city, u.geometry[i]))
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def write_cameras(city: City, path: str | PathLike[str]) -> None:
    """The city's camera inventory as the cameras file a city exports (``pipeline.cameras``):
    ``camera_id,lat,lon``, every camera in service before any simulated range."""
    lat, lon = city.to_latlon(city.cameras.xy)
    ids = city.cameras.camera_id
    lines = [f"{c},{a:.7f},{o:.7f}" for c, a, o in zip(ids, lat, lon, strict=True)]
    with open(path, "w", encoding="utf-8") as fh:  # one line per camera, not per event
        fh.write("camera_id,lat,lon\n" + "\n".join(lines) + "\n")


def write_registry(city: City, path: str | PathLike[str]) -> None:
    """Write :func:`registry_geojson` to ``path`` (UTF-8, compact)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(registry_geojson(city), fh, separators=(",", ":"), ensure_ascii=False)
