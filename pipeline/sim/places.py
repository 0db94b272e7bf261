"""Where each feed's events happen: weighted anchor points per (feed, category).

An event is an anchor drawn by weight, moved by Gaussian jitter: an alarm at a subscribed home,
a camera alert at the camera, a 110 call near a home, a shop street or a road, a grid report
somewhere in the worker's cell. Because the spatial law is an explicit weighted point set, the
share of a feed's events expected inside any disc is a plain sum of weights, which is how the
ground truth states a hotspot's local baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from pipeline.sim.city import City
from pipeline.sim.tessellation import random_points_in

__all__ = ["Anchors", "Places"]

_CELL_POINTS = 16  # sample points per grid cell standing in for "anywhere in the cell"
_CALL_JITTER_M = 30.0  # callers give an approximate location; CAD geocodes to ~tens of metres

# 110 call locations: mixture weights over (homes, commercial cameras, any road camera).
_CALL_MIX: dict[str, tuple[float, float, float]] = {
    "theft": (0.3, 0.5, 0.2),
    "robbery": (0.3, 0.4, 0.3),
    "burglary": (1.0, 0.0, 0.0),
    "assault": (0.4, 0.4, 0.2),
    "fraud": (0.9, 0.1, 0.0),
    "dispute": (0.7, 0.2, 0.1),
    "traffic": (0.0, 0.1, 0.9),
    "fire": (0.8, 0.1, 0.1),
    "public_order": (0.3, 0.6, 0.1),
    "other": (0.5, 0.2, 0.3),
}


@dataclass(frozen=True, eq=False)
class Anchors:
    """Weighted anchor points; ``entity`` is the source object (-1 when none)."""

    xy: np.ndarray  # (n, 2) metres
    weight: np.ndarray  # (n,) sums to 1
    entity: np.ndarray  # (n,) int64: household, camera or worker index
    jitter_m: float

    def share_within(self, centre_xy: np.ndarray, radius_m: float) -> float:
        """Expected share of events inside the disc (anchors inside it; jitter ignored)."""
        d2 = ((self.xy - centre_xy) ** 2).sum(axis=1)
        return float(self.weight[d2 <= radius_m * radius_m].sum())

    def sample(
        self, n: int, rng: np.random.Generator, within: tuple[np.ndarray, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` event locations and entities; ``within`` restricts to anchors in a disc."""
        weight = self.weight
        if within is not None:
            d2 = ((self.xy - within[0]) ** 2).sum(axis=1)
            weight = np.where(d2 <= within[1] ** 2, weight, 0.0)
        idx = rng.choice(len(weight), size=n, p=weight / weight.sum())
        xy = self.xy[idx]
        if self.jitter_m:
            xy = xy + rng.normal(0.0, self.jitter_m, (n, 2))
        return xy, self.entity[idx]


def _normalised(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


class Places:
    """The anchors of one simulation: the city plus per-run traits (alarm-prone homes...)."""

    def __init__(self, city: City, rng: np.random.Generator) -> None:
        self.city = city
        hh = city.households
        self._subscribers = np.flatnonzero(hh.home_guard)
        # A few homes (faulty sensors, anxious residents) raise most alarms: heavy tail.
        self._alarm_weight = rng.lognormal(0.0, 1.0, len(self._subscribers))
        self._cell_xy, self._cell_worker = self._cell_points(rng)
        self.anchors = cache(self._anchors)

    def _cell_points(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        units = self.city.units
        xy = [
            random_points_in(units.geometry[row], _CELL_POINTS, rng)
            for row in self.city.workers.grid
        ]  # loop per grid cell
        return np.concatenate(xy), np.repeat(np.arange(len(xy)), _CELL_POINTS)

    def _anchors(self, source: str, category: str) -> Anchors:
        city = self.city
        if source == "alarm_phone":
            return Anchors(
                city.households.xy[self._subscribers],
                _normalised(self._alarm_weight),
                self._subscribers.astype(np.int64),
                0.0,
            )
        if source == "camera":
            return Anchors(
                city.cameras.xy,
                _normalised(self._camera_weight(category)),
                np.arange(len(city.cameras.xy), dtype=np.int64),
                0.0,
            )
        if source == "grid_report":
            # Busier cells (more homes) generate more reports, but every worker reports some.
            homes = np.bincount(city.households.grid, minlength=len(city.units.code))
            w = 1.0 + homes[city.workers.grid] / max(homes[city.workers.grid].mean(), 1.0)
            return Anchors(
                self._cell_xy,
                _normalised(w[self._cell_worker]),
                self._cell_worker.astype(np.int64),
                0.0,
            )
        return self._call_anchors(category)

    def _camera_weight(self, kind: str) -> np.ndarray:
        cams = self.city.cameras
        factor = {
            "plate_hit": np.where(cams.main_road, 3.0, 0.3),
            "crowd": np.where(cams.commercial, 1.0, 0.02),
            "intrusion": np.where(cams.commercial, 0.3, 1.0),
        }.get(kind, 1.0)
        return cams.activity * factor

    def _call_anchors(self, category: str) -> Anchors:
        city = self.city
        sets = (city.households.xy, city.cameras.xy[city.cameras.commercial], city.cameras.xy)
        parts = [
            (xy, np.full(len(xy), share / len(xy)))
            for xy, share in zip(sets, _CALL_MIX[category], strict=True)
            if share > 0 and len(xy)
        ]
        xy = np.concatenate([p[0] for p in parts])
        return Anchors(
            xy,
            _normalised(np.concatenate([p[1] for p in parts])),
            np.full(len(xy), -1, dtype=np.int64),
            _CALL_JITTER_M,
        )
