"""Planted hotspots: extra events in a disc and time span, and what a detector should expect.

Inside a hotspot's disc and span, each affected feed runs at ``multiplier`` times its local
baseline rate, so the planted extra is ``(multiplier - 1) x baseline``. The baseline is exact
under the generator's own model (hour-of-day profile integral x the feed's share of anchors in
the disc), and the ground truth states it next to the planted count, so a detector's "count vs
expected" can be checked against what was really planted.

The extra events look like a disturbance rather than more of the same: fights and crowds on the
cameras, assaults and public-order calls on 110, panic buttons, grid workers reporting disorder.

What counts as a planted hotspot (randomly drawn ones): its rate is ``multiplier`` (3-8) times
the local baseline, for 20-120 min, *and* it stands out in principle. A 5x surge at a quiet
home at 3 am adds one or two events, which no method can tell from chance, so a draw is kept
only when an observer who knows the exact disc, span and baseline would see it: over the best
window (the span, at most 30 min, taking the excess as spread evenly) the expected count
``base + extra`` exceeds ``base`` at Poisson ``p <= SimConfig.hotspot_max_p`` (1e-9) and by at
least :data:`MIN_EXCESS` events. Otherwise the location and time are drawn again (the
multiplier is never raised to make a hotspot visible); after :data:`_MAX_DRAWS` tries the most
significant candidate is kept. Hotspots given explicitly in ``SimConfig.hotspots`` are planted
as given. The ground truth records each hotspot's ``oracle_p``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
from scipy.special import gammainc

from pipeline.alerts import SOURCE_CATEGORIES, SOURCES
from pipeline.sim.city import City
from pipeline.sim.config import Hotspot, SimConfig
from pipeline.sim.feeds import FeedEvents, daily_rate
from pipeline.sim.places import Places
from pipeline.sim.population import locate
from pipeline.sim.rhythm import PROFILES, expected_count

__all__ = ["MIN_EXCESS", "PlantedHotspot", "draw_hotspots", "oracle_p", "plant_hotspots"]

#: Fewest expected extra events over a drawn hotspot's best window.
MIN_EXCESS = 5.0
_BEST_WINDOW_MS = 1_800_000  # the longest window the engine scans
_MAX_DRAWS = 200

_PLANTED_MIX: dict[str, dict[str, float]] = {
    "alarm_phone": {"panic": 0.6, "intrusion": 0.4},
    "dispatch_110": {
        "assault": 0.25,
        "public_order": 0.25,
        "dispute": 0.25,
        "theft": 0.15,
        "robbery": 0.10,
    },
    "camera": {"crowd": 0.45, "fight": 0.25, "loitering": 0.20, "intrusion": 0.10},
    "grid_report": {"public_order": 0.5, "dispute": 0.3, "safety_hazard": 0.2},
}


@dataclass(frozen=True, slots=True)
class PlantedHotspot:
    """A hotspot with its expected baseline and planted extra per feed (distinct events)."""

    spec: Hotspot
    baseline_expected: dict[str, float]
    planted_expected: dict[str, float]
    oracle_p: float = 1.0  # see oracle_p(): how clearly it stands out in principle


def draw_hotspots(
    city: City, cfg: SimConfig, rng: np.random.Generator, places: Places | None = None
) -> tuple[Hotspot, ...]:
    """``cfg.n_hotspots`` random hotspots at homes or shopping streets, within the run; with
    ``places``, only ones that stand out in principle (see the module docstring)."""
    out = []
    for i in range(cfg.n_hotspots):  # loop per hotspot
        best, best_p = None, np.inf
        for _ in range(_MAX_DRAWS if places is not None else 1):  # redraws: a few, usually
            spot = _draw_one(city, cfg, rng, i)
            p = oracle_p(places, spot, cfg) if places is not None else 0.0
            if p < best_p:
                best, best_p = spot, p
            if p <= cfg.hotspot_max_p:
                break
        out.append(best)
    return tuple(out)


def oracle_p(places: Places, spot: Hotspot, cfg: SimConfig) -> float:
    """Poisson p-value of the expected count over the hotspot's best window against the exact
    baseline; 1.0 when the expected excess is below :data:`MIN_EXCESS`."""
    lo, hi = _span_ms(spot, cfg)
    if hi <= lo:
        return 1.0
    share = min(1.0, _BEST_WINDOW_MS / (hi - lo))
    base = share * sum(_baseline(places, spot, s, cfg) for s in spot.feeds)
    extra = (spot.multiplier - 1.0) * base
    if extra < MIN_EXCESS:
        return 1.0
    # P(X >= k | base) = P(k, base), the regularised lower incomplete gamma, at k = base + extra.
    return float(gammainc(base + extra, base))


def _draw_one(city: City, cfg: SimConfig, rng: np.random.Generator, i: int) -> Hotspot:
    land = city.land
    if rng.random() < 0.5:
        xy = city.households.xy[rng.integers(0, len(city.households.xy))]
    else:
        hub = rng.integers(0, len(land.hub_xy))
        xy = land.hub_xy[hub] + rng.normal(0.0, land.hub_sigma[hub] / 2.0, 2)
    lat, lon = city.to_latlon(xy)
    length = min(timedelta(minutes=int(rng.integers(20, 121))), cfg.duration)
    offset = rng.uniform(0.0, (cfg.duration - length).total_seconds())
    start = cfg.start + timedelta(minutes=int(offset // 60))
    feeds = tuple(s for s in SOURCES if s in ("dispatch_110", "camera") or rng.random() < 0.6)
    return Hotspot(
        lat=round(float(lat[0]), 6),
        lon=round(float(lon[0]), 6),
        radius_m=round(float(rng.uniform(150.0, 400.0)), 1),
        start=start,
        end=start + length,
        multiplier=round(float(rng.uniform(3.0, 8.0)), 2),
        feeds=feeds,
        id=f"HS{i + 1:02d}",
    )


def _centre_xy(city: City, spot: Hotspot) -> np.ndarray:
    x, y = city.projection.to_xy(np.array([spot.lat]), np.array([spot.lon]))
    return np.array([x[0], y[0]])


def _span_ms(spot: Hotspot, cfg: SimConfig) -> tuple[int, int]:
    lo = max(round(spot.start.timestamp() * 1000), cfg.start_ms)
    return lo, min(round(spot.end.timestamp() * 1000), cfg.end_ms)


def _baseline(places: Places, spot: Hotspot, source: str, cfg: SimConfig) -> float:
    centre = _centre_xy(places.city, spot)
    lo, hi = _span_ms(spot, cfg)
    total = 0.0
    for category in SOURCE_CATEGORIES[source]:
        per_day = daily_rate(source, category, cfg.scale)
        if per_day > 0:
            share = places.anchors(source, category).share_within(centre, spot.radius_m)
            total += expected_count(per_day, PROFILES[source, category], lo, hi) * share
    return total


def _disc_points(centre: np.ndarray, radius: float, n: int, rng) -> np.ndarray:
    r = radius * np.sqrt(rng.random(n))
    a = rng.uniform(0.0, 2.0 * np.pi, n)
    return centre + np.column_stack([r * np.cos(a), r * np.sin(a)])


def _locations(places: Places, source: str, category: str, centre, radius, n, rng):
    """Where planted events go: devices in the disc for alarms/cameras, anywhere for the rest."""
    if source in ("alarm_phone", "camera"):
        return places.anchors(source, category).sample(n, rng, within=(centre, radius))
    xy = _disc_points(centre, radius, n, rng)
    if source == "grid_report":
        # A report needs a cell; the rare point off the city's edge is reported at the centre.
        cell = locate(places.city.units, xy)
        xy[cell < 0] = centre
        cell = locate(places.city.units, xy)
        return xy, np.searchsorted(places.city.workers.grid, cell).astype(np.int64)
    return xy, np.full(n, -1, dtype=np.int64)


def _exact_counts(spot: Hotspot, base: dict[str, float], rng) -> dict[str, int] | None:
    """Per feed, the planted events of a hotspot with an exact ``count`` (None: drawn)."""
    if spot.count is None:
        return None
    if spot.count < 0:
        raise ValueError(f"hotspot {spot.id}: count must be >= 0, got {spot.count!r}")
    weights = np.array([base[s] for s in spot.feeds], np.float64)
    weights = (
        weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1 / len(weights))
    )
    return dict(zip(spot.feeds, rng.multinomial(spot.count, weights).tolist(), strict=True))


def _plant_one(
    places, spot, index, source, expected, cfg, rng, exact: bool = False
) -> FeedEvents | None:
    """The planted events of one feed: Poisson(``expected``), or exactly ``expected``."""
    centre = _centre_xy(places.city, spot)
    lo, hi = _span_ms(spot, cfg)
    if expected <= 0 or hi <= lo:
        return None
    mix = _PLANTED_MIX[source]
    total = int(expected) if exact else rng.poisson(expected)
    n = rng.multinomial(total, list(mix.values()))
    parts = []
    for category, k in zip(mix, n, strict=True):  # loop per category of one hotspot
        if k == 0:
            continue
        xy, entity = _locations(places, source, category, centre, spot.radius_m, int(k), rng)
        times = rng.integers(lo, hi, int(k))
        code = SOURCE_CATEGORIES[source].index(category)
        parts.append(FeedEvents.new(times, xy, np.full(k, code), entity, hotspot=index))
    return FeedEvents.concat(parts)


def plant_hotspots(
    places: Places, spots: tuple[Hotspot, ...], cfg: SimConfig, rng: np.random.Generator
) -> tuple[list[PlantedHotspot], dict[str, list[FeedEvents]]]:
    """Expected counts per hotspot and feed, and the planted events of each feed."""
    planted: dict[str, list[FeedEvents]] = {s: [] for s in SOURCES}
    truth = []
    for i, spot in enumerate(spots):  # loop per hotspot
        spot = spot if spot.id else replace(spot, id=f"HS{i + 1:02d}")
        base = {s: _baseline(places, spot, s, cfg) for s in spot.feeds}
        extra = {s: (spot.multiplier - 1.0) * b for s, b in base.items()}
        exact = _exact_counts(spot, base, rng)
        if exact is not None:
            extra = {s: float(n) for s, n in exact.items()}
        for source, expected in extra.items():
            events = _plant_one(places, spot, i, source, expected, cfg, rng, exact is not None)
            if events is not None:
                planted[source].append(events)
        truth.append(PlantedHotspot(spot, base, extra, oracle_p(places, spot, cfg)))
    return truth, planted
