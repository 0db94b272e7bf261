"""A regular four-level registry over a box, for a city whose own units are not ready yet.

``hotspot registry grid --bbox S,W,N,E --cell-m 500`` writes it. Grid cells are squares of
``cell_m`` on a local equirectangular projection of the box's centre (within 0.5% of true
size over a box of up to about 100 km at mid latitudes); communities are blocks of
``COMMUNITY_CELLS`` × ``COMMUNITY_CELLS`` cells, streets blocks of ``STREET_COMMUNITIES``²
communities and districts blocks of ``DISTRICT_STREETS``² streets, cut short at the box's north
and east edges. Every street gets one placeholder station at its centre, so flags can be routed
until the city's real stations are in the registry. All edges come from one lattice of
longitudes and latitudes, so parents contain their cells exactly.

>>> doc = grid_registry((30.20, 120.10, 30.24, 120.15), cell_m=500)
>>> levels = [f["properties"]["level"] for f in doc["features"]]
>>> {level: levels.count(level) for level in dict.fromkeys(levels)}
{'district': 1, 'street': 1, 'community': 9, 'grid': 90, 'station': 1}
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.exceptions import RegistryError

__all__ = [
    "COMMUNITY_CELLS",
    "STREET_COMMUNITIES",
    "DISTRICT_STREETS",
    "MAX_CELLS",
    "grid_registry",
    "parse_bbox",
]

#: cells per community side (2 km communities at 500 m cells: a few thousand households)
COMMUNITY_CELLS = 4
#: communities per street side
STREET_COMMUNITIES = 3
#: streets per district side
DISTRICT_STREETS = 3
#: most cells one registry may have; the loader's overlap check and lookup raster grow with it
MAX_CELLS = 250_000

_M_PER_DEG_LAT = 111_320.0
_PARENT = {"street": "district", "community": "street", "grid": "community"}
_PREFIX = {"district": "D", "street": "S", "community": "C", "grid": "G", "station": "PS"}
_ORDER = {"district": 0, "street": 1, "community": 2, "grid": 3, "station": 4}


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"S,W,N,E"`` in WGS84 degrees → ``(south, west, north, east)``, checked.

    >>> parse_bbox("30.20,120.10,30.24,120.15")
    (30.2, 120.1, 30.24, 120.15)
    """
    parts = text.split(",")
    try:
        south, west, north, east = (float(p) for p in parts)
    except ValueError:
        raise RegistryError(
            f"bbox {text!r} is not four numbers S,W,N,E (degrees, e.g. 30.20,120.10,30.24,120.15)"
        ) from None
    if not all(math.isfinite(v) for v in (south, west, north, east)):
        raise RegistryError(f"bbox {text!r} has a value that is not a finite number")
    if not (-85 <= south < north <= 85):
        raise RegistryError(
            f"bbox {text!r}: south must be below north, both within ±85°; the order is S,W,N,E"
        )
    if not (-180 <= west < east <= 180):
        raise RegistryError(
            f"bbox {text!r}: west must be below east, both within ±180°; the order is S,W,N,E "
            "(a box across the antimeridian is not supported)"
        )
    return south, west, north, east


def grid_registry(bbox: tuple[float, float, float, float], cell_m: float) -> dict[str, Any]:
    """A GeoJSON FeatureCollection covering ``bbox`` (S, W, N, E) with ``cell_m`` cells."""
    south, west, north, east = bbox
    if not cell_m >= 50:
        raise RegistryError(f"cell size {cell_m} m is below 50 m; use --cell-m 250 or more")
    lat0 = math.radians((south + north) / 2)
    dlat = cell_m / _M_PER_DEG_LAT
    dlon = cell_m / (_M_PER_DEG_LAT * math.cos(lat0))
    rows = math.ceil((north - south) / dlat - 1e-9)
    cols = math.ceil((east - west) / dlon - 1e-9)
    if rows * cols > MAX_CELLS:
        raise RegistryError(
            f"{rows} × {cols} = {rows * cols:,} cells of {cell_m:g} m is above {MAX_CELLS:,}; "
            "use a larger --cell-m or a smaller --bbox"
        )
    lats = [south + i * dlat for i in range(rows + 1)]
    lons = [west + j * dlon for j in range(cols + 1)]

    def box(r0: int, c0: int, size: int) -> dict[str, Any]:
        r1, c1 = min(r0 + size, rows), min(c0 + size, cols)
        ring = [
            [lons[c0], lats[r0]],
            [lons[c1], lats[r0]],
            [lons[c1], lats[r1]],
            [lons[c0], lats[r1]],
            [lons[c0], lats[r0]],
        ]
        return {"type": "Polygon", "coordinates": [ring]}

    def feature(code: str, level: str, parent: str | None, geometry, **extra) -> dict[str, Any]:
        props = {"code": code, "name": code, "level": level, "parent": parent, **extra}
        return {"type": "Feature", "properties": props, "geometry": geometry}

    community_cells = COMMUNITY_CELLS
    street_cells = community_cells * STREET_COMMUNITIES
    district_cells = street_cells * DISTRICT_STREETS
    features: list[dict[str, Any]] = []
    for level, size, parent_size in (
        ("district", district_cells, None),
        ("street", street_cells, district_cells),
        ("community", community_cells, street_cells),
        ("grid", 1, community_cells),
    ):
        for r in range(0, rows, size):
            for c in range(0, cols, size):
                parent = _code(_PARENT[level], r, c, parent_size) if parent_size else None
                extra = {}
                if level == "street":
                    extra["station_id"] = _code("station", r, c, size)
                features.append(feature(_code(level, r, c, size), level, parent, box(r, c, size)))
                features[-1]["properties"].update(extra)
                if level == "street":
                    r1, c1 = min(r + size, rows), min(c + size, cols)
                    centre = [(lons[c] + lons[c1]) / 2, (lats[r] + lats[r1]) / 2]
                    station = feature(
                        _code("station", r, c, size),
                        "station",
                        _code("street", r, c, size),
                        {"type": "Point", "coordinates": centre},
                    )
                    features.append(station)
    features.sort(key=lambda f: _ORDER[f["properties"]["level"]])
    return {
        "type": "FeatureCollection",
        "properties": {
            "generator": "hotspot registry grid",
            "bbox": [south, west, north, east],
            "cell_m": cell_m,
        },
        "features": features,
    }


def _code(level: str, row: int, col: int, size: int) -> str:
    """A unit's code from its block's row and column on its own level, e.g. ``G-012-007``."""
    return f"{_PREFIX[level]}-{row // size:03d}-{col // size:03d}"
