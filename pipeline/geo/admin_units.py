"""The admin-unit registry in memory: units as arrays, point → grid cell, unit attributes.

Everything a batch needs is an array lookup: ``locate`` turns points into grid-cell indices, and
from a grid index the community, street, district and responsible station are one indexing each
(``grid_community``, ``grid_street``, ``grid_district``, ``grids.station_id``). Codes are sorted
within each level, so indices do not depend on the order of features in the file.

>>> reg = load_registry(_doctest_registry())
>>> idx = reg.locate(np.array([30.0005, 31.0]), np.array([120.0005, 120.0]))
>>> idx.tolist()
[0, -1]
>>> reg.unit_columns(idx)["station_id"].tolist()
['PS1', '']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import shapely

from pipeline.geo.admin_lookup import PolygonLocator
from pipeline.geo.projection import EARTH_RADIUS_M
from pipeline.geo.registry_file import LEVELS, PARENT_LEVEL, UnitLevel, read_registry

__all__ = ["DEFAULT_RESOLUTION_M", "AdminRegistry", "UnitLevel", "load_registry"]

DEFAULT_RESOLUTION_M = 20.0  # lookup raster cell edge, metres
_M_PER_DEG = math.pi / 180.0 * EARTH_RADIUS_M
_GRID_COLUMNS = ("grid_code", "community_code", "street_code", "district_code", "station_id")
# Registry level name → the AdminRegistry attribute holding that level.
_FIELD = {
    "district": "districts",
    "street": "streets",
    "community": "communities",
    "grid": "grids",
    "compound": "compounds",
    "station": "stations",
}


def load_registry(
    source: str | PathLike[str] | Mapping[str, Any],
    *,
    resolution_m: float = DEFAULT_RESOLUTION_M,
    containment_tolerance: float = 0.01,
) -> AdminRegistry:
    """Read, validate and index a GeoJSON registry (a path or an already-parsed dict).

    Raises :class:`~pipeline.exceptions.RegistryError` listing every problem in the file.
    """
    levels = read_registry(source, containment_tolerance=containment_tolerance)
    return AdminRegistry(
        **{_FIELD[name]: level for name, level in levels.items()}, resolution_m=resolution_m
    )


@dataclass(frozen=True, eq=False)
class AdminRegistry:
    """Immutable, indexed registry. Build it with :func:`load_registry`.

    ``parent`` of each level indexes the level above; ``compounds.parent`` is the compound's
    community. Derived grid arrays (int32, float64) are read-only.
    """

    districts: UnitLevel
    streets: UnitLevel
    communities: UnitLevel
    grids: UnitLevel
    compounds: UnitLevel
    stations: UnitLevel
    resolution_m: float = DEFAULT_RESOLUTION_M
    grid_community: np.ndarray = field(init=False, repr=False)
    grid_street: np.ndarray = field(init=False, repr=False)
    grid_district: np.ndarray = field(init=False, repr=False)
    grid_centroid_lat: np.ndarray = field(init=False, repr=False)
    grid_centroid_lon: np.ndarray = field(init=False, repr=False)
    bbox: tuple[float, float, float, float] = field(
        init=False
    )  # min_lat, min_lon, max_lat, max_lon
    _grid_locator: PolygonLocator = field(init=False, repr=False)
    _compound_locator: PolygonLocator = field(init=False, repr=False)
    _grid_table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        community = self.grids.parent
        street = self.communities.parent[community]
        lat, lon = _label_points(self.grids.geometry)
        lon_min, lat_min, lon_max, lat_max = shapely.total_bounds(self.grids.geometry)
        derived = {
            "grid_community": community,
            "grid_street": street,
            "grid_district": self.streets.parent[street],
            "grid_centroid_lat": lat,
            "grid_centroid_lon": lon,
            "bbox": (float(lat_min), float(lon_min), float(lat_max), float(lon_max)),
            "_grid_locator": PolygonLocator.build(self.grids.geometry, self.resolution_m),
            "_compound_locator": PolygonLocator.build(self.compounds.geometry, self.resolution_m),
        }
        derived["_grid_table"] = self._build_grid_table(derived)
        for name, value in derived.items():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            object.__setattr__(self, name, value)  # the documented way to fill a frozen dataclass

    def _build_grid_table(self, derived: dict[str, Any]) -> np.ndarray:
        """Object columns per grid cell, plus a last row of "" that index -1 selects."""
        cols = (
            self.grids.codes,
            self.communities.codes[derived["grid_community"]],
            self.streets.codes[derived["grid_street"]],
            self.districts.codes[derived["grid_district"]],
            self.grids.station_id,
        )
        table = np.array([np.append(c.astype(object), "") for c in cols], dtype=object)
        return table

    # --- points → units ------------------------------------------------------------------------

    def locate(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Grid-cell index of each point (int32), -1 outside every cell.

        A point on an edge shared by several cells gets the lowest of their indices.
        """
        return self._grid_locator.locate(lat, lon)

    def locate_compound(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Compound index of each point (int32), -1 where no compound covers it."""
        return self._compound_locator.locate(lat, lon)

    @property
    def compound_community(self) -> np.ndarray:
        """Community index of each compound (int32)."""
        return self.compounds.parent

    def grid_index_of(self, codes: Any) -> np.ndarray:
        """Grid index of each grid code (int32), -1 for unknown codes."""
        return self.grids.index_of(codes)

    # --- units → output columns ----------------------------------------------------------------

    def unit_columns(self, grid_idx: np.ndarray) -> dict[str, np.ndarray]:
        """Codes of the cell, community, street, district and station per grid index.

        Object arrays; ``""`` where the index is -1 (a point outside the grid).
        """
        idx = _checked_index(grid_idx, len(self.grids), "grid_idx")
        rows = self._grid_table[:, idx]  # -1 picks the trailing "" entry
        return {name: rows[k] for k, name in enumerate(_GRID_COLUMNS)}

    def compound_columns(self, compound_idx: np.ndarray) -> dict[str, np.ndarray]:
        """Compound code and its community code per compound index ("" for -1)."""
        idx = _checked_index(compound_idx, len(self.compounds), "compound_idx")
        codes = np.append(self.compounds.codes.astype(object), "")
        community = np.append(self.communities.codes.astype(object), "")
        parent = np.append(self.compounds.parent, -1)
        return {"compound_code": codes[idx], "community_code": community[parent[idx]]}

    def units_table(self) -> dict[str, np.ndarray]:
        """One row per unit of every level, for the warehouse's admin-units table.

        Columns: code, name, level, parent, station_id (object, "" for none), centroid_lat,
        centroid_lon, area_km2 (float64) and polygon (WKT, full precision).
        """
        parts = [self._level_rows(name, getattr(self, _FIELD[name])) for name in LEVELS]
        return {col: np.concatenate([p[col] for p in parts]) for col in parts[0]}

    def _level_rows(self, name: str, units: UnitLevel) -> dict[str, np.ndarray]:
        above = PARENT_LEVEL[name]
        parent_codes = (
            np.append(getattr(self, _FIELD[above]).codes.astype(object), "")
            if above
            else np.array([""], dtype=object)
        )
        lat, lon = _label_points(units.geometry)
        return {
            "code": units.codes.astype(object),
            "name": units.names.astype(object),
            "level": np.full(len(units), name, dtype=object),
            "parent": parent_codes[units.parent],
            "station_id": units.station_id.astype(object),
            "centroid_lat": lat,
            "centroid_lon": lon,
            "area_km2": _area_km2(units.geometry, lat),
            "polygon": shapely.to_wkt(units.geometry, rounding_precision=-1).astype(object),
        }


def _checked_index(idx: np.ndarray, n: int, what: str) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"{what} must be an integer array, got {idx.dtype}")
    if idx.size and (idx.min() < -1 or idx.max() >= n):
        raise ValueError(f"{what} must be in [-1, {n - 1}]; use the output of locate()")
    return idx


def _label_points(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (lat, lon) of each geometry, or a point on its surface if the centroid is outside.

    A grid report with only ``grid_code`` is placed here, so the point must fall in its own cell
    (a concave cell's centroid may not). Degrees → local metres is affine, so centroids computed in
    degrees are the metric centroids.
    """
    if len(geoms) == 0:
        return np.empty(0), np.empty(0)
    points = shapely.centroid(geoms)
    outside = ~shapely.contains(geoms, points) & (shapely.get_type_id(geoms) != 0)
    points[outside] = shapely.point_on_surface(geoms[outside])
    xy = shapely.get_coordinates(points)
    return xy[:, 1].copy(), xy[:, 0].copy()


def _area_km2(geoms: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Area on the local equirectangular plane at each unit's own latitude (0 for points)."""
    if len(geoms) == 0:
        return np.empty(0)
    m2_per_deg2 = _M_PER_DEG * _M_PER_DEG * np.cos(np.radians(lat))
    return shapely.area(geoms) * m2_per_deg2 / 1e6


def _doctest_registry() -> dict[str, Any]:
    """One district, street, community and 100 m grid cell; used by the module doctest."""

    def feature(code, level, parent, geometry, station=None):
        props = {
            "code": code,
            "name": code,
            "level": level,
            "parent": parent,
            "station_id": station,
        }
        return {"type": "Feature", "properties": props, "geometry": geometry}

    square = shapely.geometry.mapping(shapely.box(120.0, 30.0, 120.001, 30.001))
    return {
        "type": "FeatureCollection",
        "features": [
            feature("D1", "district", None, square),
            feature("S1", "street", "D1", square, "PS1"),
            feature("C1", "community", "S1", square),
            feature("G1", "grid", "C1", square),
            feature("PS1", "station", "S1", {"type": "Point", "coordinates": [120.0005, 30.0005]}),
        ],
    }
