"""Detection quality of flags against planted (ground-truth) hotspots.

* **recall**: share of planted hotspots a flag *opened* for: a flag opens during the hotspot's
  span (``start_ms <= opened_ms <= end_ms``) with its centre within the hotspot's radius plus
  ``match_radius_m`` (the flag radius) of the hotspot centre.
* **covered**: a hotspot no flag opened for that starts next to a flag already open (opened
  before its onset, still open at it, centre within the same distance). Patrols are already
  sent there and the engine rightly feeds that flag instead of opening a twin
  (``merge_radius_m``), but nothing *detected* the hotspot: the covering flag opened for
  something else, and when that was no planted hotspot at all (a false flag) the cover is
  chance. Covered hotspots are reported beside recall, never in it, with how many of the
  covering flags were false flags (false before the onset).
* **time to first flag**: for each hotspot a flag opened for, first matching opening minus
  onset (event time), and minus the hotspot's third alert (the third alert with severity > 0
  in its disc and span, baseline or planted: the earliest moment three alerts could show it);
  the report gives the medians. A flag can open before the third alert inside the disc (the
  scan's disks reach past it), so that delay can be negative.
* **false flags**: opened flags that match no planted hotspot, in space as above and in time
  within ``[start_ms, end_ms + grace_ms]`` (a window still holds a hotspot's alerts for a while
  after it ends), per 10 km² per simulated day of the given city area and span; **precision**
  is the share of openings that are not false.
* **claimed vs observed false-flag rate**: ``claimed_p`` (the p-value a flag may open at) times
  the effective cell tests of the run (new tests, :mod:`pipeline.correlate.scan.tally`, times
  ``EFFECTIVE_PER_NEW_TEST``), per day, against the false flags per day observed; within a
  factor of two on quiet days with a fitted baseline (README, "Multiple testing over time").
  Observed well above it means the test is not calibrated (the baseline or its dispersion is
  off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.geo.projection import LocalProjection

from ..scan.tally import EFFECTIVE_PER_NEW_TEST
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
    """Figures of one run (see the module docstring); per-hotspot tuples in planted order."""

    planted: int
    detected: int  # hotspots a flag opened for
    recall: float  # detected / planted; NaN when nothing was planted
    delays_s: tuple[float | None, ...]  # per planted hotspot, None when no flag opened for it
    median_delay_s: float | None
    flags_opened: int
    false_flags: int
    false_flags_per_10km2_day: float
    covered: tuple[bool, ...] = ()  # per planted hotspot: no opening, a flag open at onset
    covering_flags: int = 0  # distinct flags open at the onset of a covered hotspot
    covering_false: int = 0  # of those, false flags (they opened near no planted hotspot)
    delays_after_third_s: tuple[float | None, ...] = ()  # None: no opening or < 3 alerts
    median_delay_after_third_s: float | None = None
    span_days: float = float("nan")
    claimed_false_flags_per_day: float | None = None  # None without a test count
    #: effective cell tests a day: new tests x EFFECTIVE_PER_NEW_TEST (None: not counted)
    cell_tests_per_day: float | None = None

    @property
    def n_covered(self) -> int:
        return sum(self.covered)

    @property
    def recall_with_covered(self) -> float:
        """The figure this report gave before issue 23: covered hotspots counted as found."""
        return (self.detected + self.n_covered) / self.planted if self.planted else float("nan")

    @property
    def precision(self) -> float:
        """Share of openings that match a planted hotspot; NaN when no flag opened."""
        if not self.flags_opened:
            return float("nan")
        return (self.flags_opened - self.false_flags) / self.flags_opened

    @property
    def false_flags_per_day(self) -> float:
        return self.false_flags / self.span_days


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
    alerts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    cell_tests: int | None = None,
    claimed_p: float | None = None,
) -> DetectionReport:
    """Recall, covered hotspots, delays, false-flag rate and precision (see the module
    docstring). ``alerts``: ``(event_ms, lat, lon)`` of the counted alerts (severity > 0) of
    the run, for the delay after each hotspot's third alert; ``cell_tests`` and ``claimed_p``
    for the claimed false-flag rate."""
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
    covers = open_at_onset & near  # (n_flags, n_spots)
    covered = tuple(bool(d is None and c) for d, c in zip(delays, covers.any(axis=0), strict=True))
    covering = covers[:, np.array(covered, bool).reshape(-1)].any(axis=1)
    explained = _matches(flag_xy, flag_t, spot_xy, radius, start, end + grace_ms).any(axis=1)
    false_flags = int((~explained).sum())
    after_third = _after_third(delays, planted, start, end, spot_xy, projection, alerts)
    third_found = [d for d in after_third if d is not None]
    days = span_ms / _DAY_MS
    # the tally counts new tests; the claim and the setting count effective ones (scan.tally)
    effective = None if cell_tests is None else cell_tests * EFFECTIVE_PER_NEW_TEST
    claimed = None if effective is None or claimed_p is None else effective * claimed_p / days
    return DetectionReport(
        planted=len(planted),
        detected=len(found),
        recall=len(found) / len(planted) if planted else float("nan"),
        delays_s=tuple(delays),
        median_delay_s=float(np.median(found)) if found else None,
        flags_opened=len(opens),
        false_flags=false_flags,
        false_flags_per_10km2_day=false_flags / (area_km2 / 10.0) / days,
        covered=covered,
        covering_flags=int(covering.sum()),
        covering_false=int((covering & ~explained).sum()),
        delays_after_third_s=after_third,
        median_delay_after_third_s=float(np.median(third_found)) if third_found else None,
        span_days=days,
        claimed_false_flags_per_day=claimed,
        cell_tests_per_day=None if effective is None else effective / days,
    )


def _after_third(delays, planted, start, end, spot_xy, projection, alerts) -> tuple:
    """Per hotspot: its first opening minus its third alert in disc and span (seconds)."""
    if alerts is None:
        return tuple(None for _ in planted)
    t, lat, lon = (np.asarray(a) for a in alerts)
    ax, ay = projection.to_xy(lat.astype(np.float64), lon.astype(np.float64))
    out: list[float | None] = []
    for s, spot in enumerate(planted):  # loop per planted hotspot
        if delays[s] is None:
            out.append(None)
            continue
        d2 = (ax - spot_xy[s, 0]) ** 2 + (ay - spot_xy[s, 1]) ** 2
        inside = np.sort(t[(d2 <= spot.radius_m**2) & (t >= start[s]) & (t <= end[s])])
        opened = start[s] + delays[s] * 1000.0
        out.append(float(opened - inside[2]) / 1000.0 if len(inside) >= 3 else None)
    return tuple(out)


def _closed_ms(flags: Sequence[FlagEvent], ids: list[str]) -> np.ndarray:
    """Boundary of each flag's close event (int64 max while it is still open)."""
    closes = {f.flag_id: f.boundary_ms for f in flags if f.status == "close"}
    return np.array([closes.get(i, np.iinfo(np.int64).max) for i in ids], dtype=np.int64)
