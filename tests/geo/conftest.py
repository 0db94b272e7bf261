"""Hand-made admin-unit registries for the geo tests.

``square_city``: a 2 km x 2 km city south-west corner at (30.25, 120.15). Two districts (west,
east halves), two streets each (south, north), two communities per street (west, east), four grid
cells per community (2 x 2 of 250 m x 500 m), except that the first cell is cut along its
diagonal into two triangles. Two compounds (a rectangle and a triangle), one station per street
and one extra station that a single grid cell names directly.

``jittered_city``: ``n`` x ``n`` quadrilateral grid cells from a randomly jittered lattice
(shared vertices, so they tile exactly), grouped 4 x 4 into communities, 2 x 2 communities into
streets and street columns into districts. n = 40 with 600 m x 450 m cells spans 24 x 18 km.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import numpy as np
import pytest
import shapely

from pipeline.geo.projection import LocalProjection

ORIGIN = LocalProjection(30.25, 120.15)


def to_lonlat(x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
    lat, lon = ORIGIN.to_latlon(np.atleast_1d(x_m), np.atleast_1d(y_m))
    return np.column_stack([lon, lat])


def feature(code, level, parent, geometry, station=None, name=None) -> dict:
    props = {"code": code, "name": name or f"{level} {code}", "level": level, "parent": parent}
    if station is not None:
        props["station_id"] = station
    return {"type": "Feature", "properties": props, "geometry": geometry}


def polygon_m(*xy_m: tuple[float, float]) -> dict:
    """A GeoJSON Polygon from metre vertices (closed here)."""
    ring = to_lonlat(np.array([p[0] for p in xy_m]), np.array([p[1] for p in xy_m]))
    ring = np.vstack([ring, ring[:1]])
    return {"type": "Polygon", "coordinates": [ring.tolist()]}


def rect_m(x0, y0, x1, y1) -> dict:
    return polygon_m((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def point_m(x, y) -> dict:
    return {"type": "Point", "coordinates": to_lonlat(np.array([x]), np.array([y]))[0].tolist()}


@functools.cache
def _square_city() -> dict:
    feats = []
    for d in range(2):
        dc = f"D{d + 1}"
        feats.append(feature(dc, "district", None, rect_m(1000 * d, 0, 1000 * d + 1000, 2000)))
        for s in range(2):
            sc, ps = f"{dc}S{s + 1}", f"PS{2 * d + s + 1}"
            x0, y0 = 1000 * d, 1000 * s
            feats.append(feature(sc, "street", dc, rect_m(x0, y0, x0 + 1000, y0 + 1000), ps))
            feats.append(feature(ps, "station", sc, point_m(x0 + 500, y0 + 500)))
            for c in range(2):
                cc, cx = f"{sc}C{c + 1}", x0 + 500 * c
                feats.append(feature(cc, "community", sc, rect_m(cx, y0, cx + 500, y0 + 1000)))
                feats.extend(_cells(cc, cx, y0))
    feats.append(feature("PS9", "station", None, point_m(2500, 2500)))
    feats.append(feature("K1", "compound", "D1S1C2", rect_m(600, 100, 800, 300)))
    feats.append(
        feature("K2", "compound", "D2S2C1", polygon_m((1100, 1100), (1400, 1100), (1250, 1300)))
    )
    return {"type": "FeatureCollection", "features": feats}


def _cells(cc: str, cx: float, cy: float) -> list[dict]:
    out = []
    for k, (i, j) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        x0, y0 = cx + 250 * i, cy + 500 * j
        if cc == "D1S1C1" and k == 0:  # the triangle pair
            out.append(
                feature(
                    f"{cc}T1", "grid", cc, polygon_m((x0, y0), (x0 + 250, y0), (x0 + 250, y0 + 500))
                )
            )
            out.append(
                feature(
                    f"{cc}T2", "grid", cc, polygon_m((x0, y0), (x0 + 250, y0 + 500), (x0, y0 + 500))
                )
            )
            continue
        station = "PS9" if cc == "D2S2C2" and k == 3 else None
        out.append(
            feature(f"{cc}G{k + 1}", "grid", cc, rect_m(x0, y0, x0 + 250, y0 + 500), station)
        )
    return out


def _jittered_city(
    n: int = 40, cell_w: float = 600.0, cell_h: float = 450.0, jitter: float = 0.2, seed: int = 7
) -> dict:
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(n + 1) * cell_w, np.arange(n + 1) * cell_h, indexing="ij")
    gx = gx + rng.uniform(-jitter, jitter, gx.shape) * cell_w
    gy = gy + rng.uniform(-jitter, jitter, gy.shape) * cell_h
    lonlat = to_lonlat(gx.ravel(), gy.ravel()).reshape(n + 1, n + 1, 2)
    cells = {}
    for i in range(n):
        for j in range(n):
            ring = [lonlat[i, j], lonlat[i + 1, j], lonlat[i + 1, j + 1], lonlat[i, j + 1]]
            cells[i, j] = shapely.Polygon(ring)
    feats = []

    def add(code, level, parent, geom, station=None):
        feats.append(feature(code, level, parent, shapely.geometry.mapping(geom), station))

    communities: dict[tuple[int, int], list] = {}
    for (i, j), cell in cells.items():
        communities.setdefault((i // 4, j // 4), []).append(((i, j), cell))
    streets: dict[tuple[int, int], list] = {}
    for (ci, cj), members in communities.items():
        code = f"C{ci:02d}{cj:02d}"
        geom = shapely.union_all([c for _, c in members])
        streets.setdefault((ci // 2, cj // 2), []).append((code, geom))
        for (i, j), cell in members:
            add(f"G{i:02d}{j:02d}", "grid", code, cell)
        add(code, "community", f"S{ci // 2:02d}{cj // 2:02d}", geom)
    for (si, sj), members in streets.items():
        geom = shapely.union_all([g for _, g in members])
        add(f"S{si:02d}{sj:02d}", "street", f"D{si:02d}", geom, f"P{si:02d}{sj:02d}")
    for si in {k[0] for k in streets}:
        geom = shapely.union_all(
            [shapely.union_all([g for _, g in m]) for (a, _), m in streets.items() if a == si]
        )
        add(f"D{si:02d}", "district", None, geom)
    return {"type": "FeatureCollection", "features": feats}


@pytest.fixture
def city_doc() -> dict:
    """A fresh copy of the square city; tests may edit it."""
    return copy.deepcopy(_square_city())


@pytest.fixture(scope="session")
def jittered_city() -> Callable[..., dict]:
    """Factory: ``jittered_city(n=40, ...)`` builds a fresh document."""
    return _jittered_city


@pytest.fixture(scope="session")
def rect() -> Callable[..., dict]:
    """``rect(x0, y0, x1, y1)``: a GeoJSON rectangle in metres from the square city's corner."""
    return rect_m
