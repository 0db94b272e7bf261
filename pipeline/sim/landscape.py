"""Where people live, shop and drive: the density surface, commercial hubs and the road lattice.

Everything else in the synthetic city is placed against these three: admin units are sized by
density, households follow it, cameras sit on roads (more where it is dense), crowds form at the
commercial hubs. Coordinates are metres east/north of the city centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Landscape", "draw_landscape"]

_CORE_SIGMA_FRACTION = 0.25  # core density falls to ~60 % at a quarter of the city's width
_RURAL_FLOOR = 0.08  # outskirts keep some villages, not empty land
_HUB_WEIGHT = 0.8


@dataclass(frozen=True, eq=False)
class Landscape:
    """Half extents of the city (metres), commercial hubs and the road lattice."""

    half_width: float
    half_height: float
    hub_xy: np.ndarray  # (h, 2) commercial centres
    hub_sigma: np.ndarray  # (h,) metres
    main_x: np.ndarray  # x of north-south main roads
    main_y: np.ndarray  # y of east-west main roads
    minor_x: np.ndarray  # x of north-south minor roads
    minor_y: np.ndarray  # y of east-west minor roads

    def density(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Relative residential density at ``(x, y)``: a central core, hubs, a rural floor."""
        sigma = _CORE_SIGMA_FRACTION * 2.0 * self.half_width
        d = _RURAL_FLOOR + np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
        return d + _HUB_WEIGHT * self.hub_strength(x, y)

    def hub_strength(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Sum of Gaussian bumps around the commercial hubs (1 at a hub's centre)."""
        dx = x[..., None] - self.hub_xy[:, 0]
        dy = y[..., None] - self.hub_xy[:, 1]
        return np.exp(-(dx * dx + dy * dy) / (2.0 * self.hub_sigma**2)).sum(axis=-1)


def _road_positions(
    half: float, spacing: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    gaps = rng.uniform(*spacing, int(2 * half / spacing[0]) + 2)
    pos = -half + np.cumsum(gaps)
    return pos[pos < half]


def draw_landscape(
    width_m: float, height_m: float, n_hubs: int, rng: np.random.Generator
) -> Landscape:
    """A random landscape for a ``width_m`` x ``height_m`` city centred on (0, 0)."""
    hw, hh = width_m / 2.0, height_m / 2.0
    # Hubs cluster towards the centre (old town, CBD) but a few sit in newer districts.
    hubs = rng.normal(0.0, 0.3, (n_hubs, 2)) * [hw, hh]
    hubs = np.clip(hubs, [-0.85 * hw, -0.85 * hh], [0.85 * hw, 0.85 * hh])
    return Landscape(
        half_width=hw,
        half_height=hh,
        hub_xy=hubs,
        hub_sigma=rng.uniform(250.0, 500.0, n_hubs),
        main_x=_road_positions(hw, (600.0, 1100.0), rng),
        main_y=_road_positions(hh, (600.0, 1100.0), rng),
        minor_x=_road_positions(hw, (220.0, 420.0), rng),
        minor_y=_road_positions(hh, (220.0, 420.0), rng),
    )
