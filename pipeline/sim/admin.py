"""The synthetic city's admin units: district → street → community → grid cell, plus compounds
(residential compounds inside communities) and police stations (one per street).

Codes are hierarchical ("D01S03C02G05", compounds "D01S03C02R01", stations "P-D01S03") so a code
alone tells its ancestors. Geometry stays in metres here; :mod:`pipeline.sim.registry` converts
it to WGS84 GeoJSON.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Point, Polygon, box

from pipeline.sim.landscape import Landscape
from pipeline.sim.names import compound_names, district_names, place_names
from pipeline.sim.tessellation import random_points_in, tessellate

__all__ = ["UnitCounts", "AdminUnits", "build_admin_units"]

_COMPOUND_TRIES = 25  # placement attempts per compound before giving up on it


@dataclass(frozen=True, slots=True)
class UnitCounts:
    """Mean children per parent; each parent draws its own count within ``±spread``."""

    districts: int = 6
    streets_per_district: int = 5
    communities_per_street: int = 6
    grids_per_community: int = 8
    compounds_per_community: int = 3


@dataclass(frozen=True, eq=False)
class AdminUnits:
    """One row per unit, all levels together; ``parent`` and ``station`` are row indices (-1)."""

    code: np.ndarray  # str
    name: np.ndarray  # str
    level: np.ndarray  # str: district|street|community|grid|compound|station
    parent: np.ndarray  # int32 row of the parent, -1 for districts
    station: np.ndarray  # int32 row of the responsible station, -1 for districts and stations
    geometry: np.ndarray  # shapely, metres (Polygon; Point for stations)

    def rows(self, level: str) -> np.ndarray:
        """Row indices of one level, in code order."""
        return np.flatnonzero(self.level == level)


class _Builder:
    """Accumulates rows while the hierarchy is walked top-down."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, int, int, shapely.Geometry]] = []

    def add(self, code, name, level, parent, station, geom) -> int:
        self.rows.append((code, name, level, parent, station, geom))
        return len(self.rows) - 1

    def build(self) -> AdminUnits:
        code, name, level, parent, station, geom = zip(*self.rows, strict=True)
        return AdminUnits(
            code=np.array(code),
            name=np.array(name),
            level=np.array(level),
            parent=np.array(parent, dtype=np.int32),
            station=np.array(station, dtype=np.int32),
            geometry=np.array(geom, dtype=object),
        )


def _count(mean: int, spread: int, rng: np.random.Generator) -> int:
    return max(1, int(mean + rng.integers(-spread, spread + 1)))


def _compounds(community: Polygon, n: int, rng: np.random.Generator) -> list[Polygon]:
    """Up to ``n`` non-overlapping rotated rectangles (120-320 m a side) inside ``community``."""
    placed: list[Polygon] = []
    for _ in range(n * _COMPOUND_TRIES):
        if len(placed) == n:
            break
        cx, cy = random_points_in(community, 1, rng)[0]
        w, h = rng.uniform(120.0, 320.0, 2)
        rect = shapely.affinity.rotate(
            box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), rng.uniform(0.0, 90.0)
        )
        clipped = rect.intersection(community)
        if (
            isinstance(clipped, Polygon)
            and clipped.area > 0.7 * rect.area
            and not any(clipped.intersects(p) for p in placed)
        ):
            placed.append(clipped)
    return placed


def _community(b: _Builder, geom, code, name, parent, station, n, rng) -> None:
    row = b.add(code, name, "community", parent, station, geom)
    for g, cell in enumerate(tessellate(geom, _count(n.grids_per_community, 2, rng), rng), 1):
        b.add(f"{code}G{g:02d}", f"Grid {g}", "grid", row, station, cell)
    polys = _compounds(geom, _count(n.compounds_per_community, 1, rng), rng)
    for r, (poly, cname) in enumerate(zip(polys, compound_names(len(polys), rng), strict=True), 1):
        b.add(f"{code}R{r:02d}", cname, "compound", row, station, poly)


def _street(b: _Builder, geom, code, name, parent, land, n, rng) -> None:
    # The station row follows its street's, so each can name the other.
    row, station = len(b.rows), len(b.rows) + 1
    b.add(code, name, "street", parent, station, geom)
    station_xy = random_points_in(geom, 1, rng, land.density)[0]
    b.add(
        f"P-{code}",
        f"{name.removesuffix(' Street')} Police Station",
        "station",
        row,
        -1,
        Point(station_xy),
    )
    children = tessellate(geom, _count(n.communities_per_street, 1, rng), rng, land.density)
    names = place_names(len(children), "Community", rng)
    for c, (cell, cname) in enumerate(zip(children, names, strict=True), 1):
        _community(b, cell, f"{code}C{c:02d}", cname, row, station, n, rng)


def build_admin_units(land: Landscape, counts: UnitCounts, rng: np.random.Generator) -> AdminUnits:
    """Tessellate the city rectangle into the four-level grid, compounds and stations."""
    b = _Builder()
    city = box(-land.half_width, -land.half_height, land.half_width, land.half_height)
    districts = tessellate(city, counts.districts, rng, land.density)
    for d, (geom, dname) in enumerate(
        zip(districts, district_names(len(districts), rng), strict=True), 1
    ):
        row = b.add(f"D{d:02d}", dname, "district", -1, -1, geom)
        streets = tessellate(geom, _count(counts.streets_per_district, 1, rng), rng, land.density)
        for s, (cell, sname) in enumerate(
            zip(streets, place_names(len(streets), "Street", rng), strict=True), 1
        ):
            _street(b, cell, f"D{d:02d}S{s:02d}", sname, row, land, counts, rng)
    return b.build()
