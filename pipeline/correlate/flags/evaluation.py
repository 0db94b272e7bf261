"""Detection quality of flags against planted (ground-truth) hotspots.

* **recall**: share of planted hotspots detected. A hotspot is detected when a flag *opens*
  during its span (``start_ms <= opened_ms <= end_ms``) with its centre within the hotspot's
  radius plus ``match_radius_m`` (the flag radius) of the hotspot centre.
  A hotspot that starts next to a flag already open (opened before its onset, still open at
  it, centre within the same distance) is *covered*: patrols are already sent there, and the
  engine rightly feeds that flag instead of opening a twin (``merge_radius_m``). Covered
  hotspots count as detected, but have no time to first flag.
* **time to first flag**: for each hotspot detected by an opening, first matching opening
  minus onset (event time); the report gives the median.
* **false flags**: opened flags that match no planted hotspot, in space as above and in time
  within ``[start_ms, end_ms + grace_ms]`` (a window still holds a hotspot's alerts for a while
  after it ends), per 10 km² per simulated day of the given city area and span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.geo.projection import LocalProjection

from .tracker import FlagEvent

__all__ = ["PlantedHotspot", "DetectionReport", "evaluate_detection"]

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PlantedHotspot:
    """A hotspot the simulator planted: alerts at ``multiplier`` x baseline within
    ``radius_m`` of the centre from ``start_ms`` to ``end_ms`` (event time)."""

    lat: float
    lon: float
    radius_m: float
    start_ms: int
    end_ms: int
    multiplier: float


@dataclass(frozen=True, slots=True)
class DetectionReport:
    planted: int
    detected: int
    recall: float  # NaN when nothing was planted
    delays_s: tuple[float | None, ...]  # per planted hotspot, None when missed or covered
    median_delay_s: float | None
    flags_opened: int
    false_flags: int
    false_flags_per_10km2_day: float
    covered: tuple[bool, ...] = ()  # per planted hotspot: a flag open before onset covered it


def _matches(flag_xy, flag_t, spot_xy, radius, start, end) -> np.ndarray:
    """(n_flags, n_spots) mask: flag centre within radius[s] and opened within [start, end]."""
    d2 = ((flag_xy[:, None, :] - spot_xy[None, :, :]) ** 2).sum(axis=2)
    return (
        (d2 <= radius[None, :] ** 2)
        & (flag_t[:, None] >= start[None, :])
        & (flag_t[:, None] <= end[None, :])
    )


def evaluate_detection(
    flags: Sequence[FlagEvent],
    planted: Sequence[PlantedHotspot],
    projection: LocalProjection,
    *,
    area_km2: float,
    span_ms: int,
    match_radius_m: float = 500.0,
    grace_ms: int = 1_800_000,
) -> DetectionReport:
    """Recall, median time to first flag and false-flag rate (see the module docstring)."""
    if area_km2 <= 0 or span_ms <= 0:
        raise ValueError("area_km2 and span_ms must be > 0 to turn false flags into a rate")
    opens = [f for f in flags if f.status == "open"]
    fx, fy = projection.to_xy(np.array([f.lat for f in opens]), np.array([f.lon for f in opens]))
    flag_xy = np.stack([fx, fy], axis=1)
    flag_t = np.array([f.opened_ms for f in opens], dtype=np.int64)
    sx, sy = projection.to_xy(
        np.array([s.lat for s in planted]), np.array([s.lon for s in planted])
    )
    spot_xy = np.stack([sx, sy], axis=1)
    radius = np.array([s.radius_m for s in planted]) + match_radius_m
    start = np.array([s.start_ms for s in planted], dtype=np.int64)
    end = np.array([s.end_ms for s in planted], dtype=np.int64)

    hits = _matches(flag_xy, flag_t, spot_xy, radius, start, end)
    delays: list[float | None] = []
    for s in range(len(planted)):  # loop per planted hotspot
        t = flag_t[hits[:, s]]
        delays.append(float(t.min() - start[s]) / 1000.0 if len(t) else None)
    found = [d for d in delays if d is not None]
    closed = _closed_ms(flags, [f.flag_id for f in opens])
    open_at_onset = (flag_t[:, None] < start[None, :]) & (closed[:, None] >= start[None, :])
    near = _matches(
        flag_xy, flag_t, spot_xy, radius, np.full_like(start, np.iinfo(np.int64).min), end
    )
    under_flag = (open_at_onset & near).any(axis=0)
    covered = tuple(bool(d is None and c) for d, c in zip(delays, under_flag, strict=True))
    explained = _matches(flag_xy, flag_t, spot_xy, radius, start, end + grace_ms).any(axis=1)
    false_flags = int((~explained).sum())
    return DetectionReport(
        planted=len(planted),
        detected=len(found) + sum(covered),
        recall=(len(found) + sum(covered)) / len(planted) if planted else float("nan"),
        delays_s=tuple(delays),
        median_delay_s=float(np.median(found)) if found else None,
        flags_opened=len(opens),
        false_flags=false_flags,
        false_flags_per_10km2_day=false_flags / (area_km2 / 10.0) / (span_ms / _DAY_MS),
        covered=covered,
    )


def _closed_ms(flags: Sequence[FlagEvent], ids: list[str]) -> np.ndarray:
    """Boundary of each flag's close event (int64 max while it is still open)."""
    closes = {f.flag_id: f.boundary_ms for f in flags if f.status == "close"}
    return np.array([closes.get(i, np.iinfo(np.int64).max) for i in ids], dtype=np.int64)
