"""The city's alert sources: households (with alarm phones), public cameras, grid workers.

Each is a columnar table (one NumPy array per attribute) in metres; ``grid`` columns hold the
admin-unit row of the grid cell the thing stands in, which is what the feeds report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from pipeline.sim.admin import AdminUnits
from pipeline.sim.landscape import Landscape
from pipeline.sim.names import mobile_numbers
from pipeline.sim.tessellation import random_points_in

__all__ = [
    "Households",
    "Cameras",
    "Workers",
    "locate",
    "place_households",
    "place_cameras",
    "assign_workers",
]

_IN_COMPOUND_SHARE = 0.7  # most urban households live in gated residential compounds
_HUB_CAMERA_REACH = 1.5  # a camera within 1.5 hub sigmas counts as covering a commercial area


@dataclass(frozen=True, eq=False)
class Households:
    household_id: np.ndarray  # str "HH000123"
    device_id: np.ndarray  # str, the alarm phone / panic button
    phone: np.ndarray  # str, 11-digit mobile number of the registered contact
    address: np.ndarray  # str
    xy: np.ndarray  # (n, 2) metres
    grid: np.ndarray  # int32 admin row of the grid cell
    home_guard: np.ndarray  # bool: subscribed to the alarm-phone line


@dataclass(frozen=True, eq=False)
class Cameras:
    camera_id: np.ndarray  # str, GB/T 28181-style 20-digit device code
    xy: np.ndarray  # (n, 2) metres
    grid: np.ndarray  # int32
    main_road: np.ndarray  # bool: on a main road (plate recognition, traffic)
    commercial: np.ndarray  # bool: covers a commercial hub (crowds in the evening)
    activity: np.ndarray  # float: relative chattiness, heavy-tailed like real analytics


@dataclass(frozen=True, eq=False)
class Workers:
    reporter_id: np.ndarray  # str
    grid: np.ndarray  # int32, the one cell each worker patrols


def locate(units: AdminUnits, xy: np.ndarray) -> np.ndarray:
    """Admin row of the grid cell containing each point, -1 outside every cell."""
    rows = units.rows("grid")
    tree = shapely.STRtree(units.geometry[rows])
    pts, hit = tree.query(shapely.points(xy), predicate="intersects")
    # A point on a shared edge hits two cells; the first (lowest row) wins, deterministically.
    first_pt, first = np.unique(pts, return_index=True)
    out = np.full(len(xy), -1, dtype=np.int32)
    out[first_pt] = rows[hit[first]]
    return out


def _addresses(units: AdminUnits, home: np.ndarray, in_compound: np.ndarray, rng) -> list[str]:
    n = len(home)
    b, u, fl, no = (
        rng.integers(1, 30, n),
        rng.integers(1, 4, n),
        rng.integers(1, 25, n),
        rng.integers(1, 300, n),
    )
    out = []
    for i in range(n):
        street = units.parent[units.parent[home[i]]] if in_compound[i] else units.parent[home[i]]
        tail = f"{units.name[street]}, {units.name[units.parent[street]]}, Hangzhou"
        if in_compound[i]:
            out.append(f"Bldg {b[i]} Unit {u[i]} Rm {fl[i]}0{u[i]}, {units.name[home[i]]}, {tail}")
        else:
            out.append(f"No. {no[i]}, {units.name[home[i]]}, {tail}")
    return out


def place_households(
    units: AdminUnits, land: Landscape, n: int, home_guard_share: float, rng: np.random.Generator
) -> Households:
    """``n`` households, denser where the landscape is dense, mostly inside compounds."""
    comm = units.rows("community")
    geoms = units.geometry[comm]
    centre = np.array([g.centroid.coords[0] for g in geoms])
    weight = land.density(centre[:, 0], centre[:, 1]) * shapely.area(geoms)
    per_comm = rng.multinomial(n, weight / weight.sum())
    compounds = units.rows("compound")
    xy, home, in_compound = [], [], []
    for row, geom, k in zip(comm, geoms, per_comm, strict=True):  # loop per community
        mine = compounds[units.parent[compounds] == row]
        k_in = int(rng.binomial(k, _IN_COMPOUND_SHARE)) if len(mine) else 0
        area = shapely.area(units.geometry[mine])
        per_compound = rng.multinomial(k_in, area / area.sum()) if k_in else []
        for c, kc in zip(mine, per_compound, strict=False):
            xy.append(random_points_in(units.geometry[c], int(kc), rng))
            home += [c] * int(kc)
            in_compound += [True] * int(kc)
        xy.append(random_points_in(geom, k - k_in, rng))
        home += [row] * (k - k_in)
        in_compound += [False] * (k - k_in)
    xy = np.concatenate(xy)
    home, in_compound = np.array(home), np.array(in_compound)
    ids = np.char.zfill(np.arange(n).astype(str), 6)
    return Households(
        household_id=np.char.add("HH", ids),
        device_id=np.char.add("ALM-", ids),
        phone=mobile_numbers(n, rng),
        address=np.array(_addresses(units, home, in_compound, rng)),
        xy=xy,
        grid=locate(units, xy),
        home_guard=rng.random(n) < home_guard_share,
    )


def place_cameras(units: AdminUnits, land: Landscape, n: int, rng: np.random.Generator) -> Cameras:
    """``n`` cameras on the road lattice, more where it is dense, a fifth at main junctions."""
    hw, hh = land.half_width, land.half_height
    k = n * 12  # rejection candidates; density acceptance keeps roughly one in six
    vertical = rng.random(k) < 0.5
    main = rng.random(k) < 0.55
    along = rng.uniform(-1.0, 1.0, k) * np.where(vertical, hh, hw)
    lines_x = np.where(
        main,
        land.main_x[rng.integers(0, len(land.main_x), k)],
        land.minor_x[rng.integers(0, len(land.minor_x), k)],
    )
    lines_y = np.where(
        main,
        land.main_y[rng.integers(0, len(land.main_y), k)],
        land.minor_y[rng.integers(0, len(land.minor_y), k)],
    )
    junction = main & (rng.random(k) < 0.35)
    x = np.where(vertical, lines_x, np.where(junction, lines_x, along))
    y = np.where(vertical, np.where(junction, lines_y, along), lines_y)
    d = land.density(x, y)
    keep = np.flatnonzero(rng.random(k) * d.max() < d)[:n]
    xy = np.column_stack([x[keep], y[keep]])
    grid = locate(units, xy)
    district = np.array([int(units.code[r][1:3]) for r in grid])
    serial = np.char.zfill(np.arange(len(xy)).astype(str), 7)
    reach = land.hub_strength(xy[:, 0], xy[:, 1]) > np.exp(-0.5 * _HUB_CAMERA_REACH**2)
    return Cameras(
        camera_id=np.char.add(
            np.char.add("330100", np.char.zfill(district.astype(str), 2)),
            np.char.add("00132", serial),
        ),
        xy=xy,
        grid=grid,
        main_road=main[keep],
        commercial=reach,
        activity=rng.lognormal(0.0, 1.0, len(xy)),
    )


def assign_workers(units: AdminUnits) -> Workers:
    """One grid worker per grid cell."""
    rows = units.rows("grid")
    return Workers(
        reporter_id=np.char.add("GW", np.char.zfill(np.arange(len(rows)).astype(str), 5)),
        grid=rows.astype(np.int32),
    )
