"""The synthetic city: its settings, and one object holding its geography and population.

>>> city = build_city(CityConfig(seed=7, households=2_000, cameras=200))
>>> sorted(set(city.units.level.tolist()))[:3]
['community', 'compound', 'district']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.geo.projection import LocalProjection
from pipeline.sim.admin import AdminUnits, UnitCounts, build_admin_units
from pipeline.sim.landscape import Landscape, draw_landscape
from pipeline.sim.population import (
    Cameras,
    Households,
    Workers,
    assign_workers,
    place_cameras,
    place_households,
)

__all__ = ["CityConfig", "City", "build_city"]


@dataclass(frozen=True, slots=True)
class CityConfig:
    """Settings of the synthetic city; the same config always builds the same city."""

    seed: int = 0
    center: tuple[float, float] = (30.25, 120.15)  # (lat, lon) WGS84, central Hangzhou
    size_m: tuple[float, float] = (24_000.0, 18_000.0)  # east-west, north-south extent
    counts: UnitCounts = field(default_factory=UnitCounts)
    households: int = 40_000
    home_guard_share: float = 0.08  # households subscribed to the alarm-phone line
    cameras: int = 3_000
    commercial_hubs: int = 8


@dataclass(frozen=True, eq=False)
class City:
    """Geography (metres east/north of ``center``) plus the things that raise alerts."""

    config: CityConfig
    projection: LocalProjection
    land: Landscape
    units: AdminUnits
    households: Households
    cameras: Cameras
    workers: Workers

    def to_latlon(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 ``(lat, lon)`` of metre coordinates, shape ``(n, 2)``."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return self.projection.to_latlon(xy[:, 0], xy[:, 1])

    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` of the city rectangle, GeoJSON order."""
        lat, lon = self.to_latlon(
            np.array(
                [
                    [-self.land.half_width, -self.land.half_height],
                    [self.land.half_width, self.land.half_height],
                ]
            )
        )
        return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def build_city(cfg: CityConfig | None = None) -> City:
    """Draw the whole city from ``cfg.seed`` (default config if None)."""
    cfg = cfg if cfg is not None else CityConfig()
    rng = np.random.default_rng(cfg.seed)
    # Independent child streams: changing the camera count does not move the admin borders.
    r_land, r_units, r_homes, r_cams = rng.spawn(4)
    land = draw_landscape(cfg.size_m[0], cfg.size_m[1], cfg.commercial_hubs, r_land)
    units = build_admin_units(land, cfg.counts, r_units)
    return City(
        config=cfg,
        projection=LocalProjection(*cfg.center),
        land=land,
        units=units,
        households=place_households(units, land, cfg.households, cfg.home_guard_share, r_homes),
        cameras=place_cameras(units, land, cfg.cameras, r_cams),
        workers=assign_workers(units),
    )
