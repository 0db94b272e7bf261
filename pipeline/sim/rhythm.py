"""When things happen: hour-of-day profiles and a Poisson process that follows them.

A profile is 24 relative weights for the local hours (Asia/Shanghai, UTC+8 all year: China has
had no daylight saving since 1991, so a fixed offset is exact). The rate at time ``t`` of a stream
with ``per_day`` events a day is ``per_day / 24 * profile[hour(t)] / mean(profile)`` per hour.
Profiles are step functions on purpose: the expected count in any window is then an exact sum,
which the ground truth states as the baseline a hotspot detector should expect.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOCAL_OFFSET_MS", "HOUR_MS", "PROFILES", "expected_count", "poisson_times"]

HOUR_MS = 3_600_000
LOCAL_OFFSET_MS = 8 * HOUR_MS  # Asia/Shanghai

# fmt: off
_EVENING = (1.2, .9, .6, .45, .35, .35, .5, .8, 1, 1, 1, 1.05, 1.05, 1, 1, 1.05, 1.1, 1.2, 1.35,
            1.55, 1.7, 1.75, 1.6, 1.4)
_RUSH = (.3, .2, .15, .1, .1, .3, .8, 1.8, 2, 1.3, 1, 1, 1.1, 1, 1, 1.1, 1.4, 2, 1.9, 1.3, 1, .8,
         .6, .4)
_DAYTIME = (.4, .3, .2, .2, .2, .3, .5, .8, 1, 1.2, 1.3, 1.3, 1.3, 1.4, 1.4, 1.4, 1.4, 1.5, 1.5,
            1.4, 1.3, 1.1, .8, .6)
_LATE_NIGHT = (2, 1.8, 1.4, 1, .6, .3, .3, .4, .5, .6, .7, .8, .8, .8, .8, .8, .9, 1, 1.2, 1.4,
               1.6, 1.8, 2, 2.1)
_SMALL_HOURS = (4, 4, 4, 3.5, 3, 2, 1, .7, .6, .6, .6, .6, .6, .6, .6, .6, .6, .7, .8, 1, 1.5, 2,
                3, 3.5)
_MEALTIME = (.5, .5, .4, .4, .4, .5, .8, 1, 1, 1, 1.3, 2, 1.8, 1.2, 1, 1, 1.3, 2, 2.2, 1.8, 1.3, 1,
             .8, .6)
_OFFICE = (.2, .1, .1, .1, .1, .1, .3, .8, 1.4, 1.8, 1.8, 1.6, 1.3, 1.6, 1.8, 1.8, 1.6, 1.3, 1, .8,
           .6, .5, .4, .3)
_DISPUTE = (1, .7, .4, .3, .2, .2, .3, .6, .8, 1, 1, 1, 1, 1, 1, 1, 1.1, 1.2, 1.5, 1.7, 1.8, 1.8,
            1.6, 1.3)
_BURGLARY = (1.6, 1.8, 1.8, 1.6, 1.2, .8, .6, .6, .8, 1, 1, 1, 1, 1, 1, 1, .9, .8, .7, .7, .8, .9,
             1.1, 1.3)
_MORNING_TEST = (.05, .05, .05, .05, .05, .1, .5, 3, 5, 4, 2, 1, .6, .5, .5, .5, .4, .4, .3, .3,
                 .2, .1, .05, .05)
_LOITER = (1.5, 1.4, 1.2, 1, .8, .6, .5, .6, .7, .8, .9, .9, .9, .9, .9, .9, 1, 1.1, 1.3, 1.5,
           1.6, 1.7, 1.7, 1.6)
_CROWD = (.2, .1, .05, .05, .05, .05, .1, .3, .6, .8, 1, 1.3, 1.5, 1.2, 1, 1, 1.2, 1.6, 2.4, 3,
          3.2, 2.8, 1.8, .8)
_WORK_HOURS = (0, 0, 0, 0, 0, 0, .02, .2, 1.5, 2, 2, 1.8, .8, 1, 1.8, 2, 1.8, 1.2, .3, .05, .02,
               0, 0, 0)
_FLAT = (1.0,) * 24
# fmt: on

#: Profile of each (source, category); the keys double as the list of what each feed emits.
PROFILES: dict[tuple[str, str], tuple[float, ...]] = {
    ("alarm_phone", "panic"): _LATE_NIGHT,
    ("alarm_phone", "intrusion"): _SMALL_HOURS,
    ("alarm_phone", "fire"): _MEALTIME,
    ("alarm_phone", "gas"): _MEALTIME,
    ("alarm_phone", "tamper"): _FLAT,
    ("alarm_phone", "test"): _MORNING_TEST,
    ("dispatch_110", "theft"): _DAYTIME,
    ("dispatch_110", "robbery"): _LATE_NIGHT,
    ("dispatch_110", "burglary"): _BURGLARY,
    ("dispatch_110", "assault"): _LATE_NIGHT,
    ("dispatch_110", "fraud"): _OFFICE,
    ("dispatch_110", "dispute"): _DISPUTE,
    ("dispatch_110", "traffic"): _RUSH,
    ("dispatch_110", "fire"): _MEALTIME,
    ("dispatch_110", "public_order"): _LATE_NIGHT,
    ("dispatch_110", "other"): _EVENING,
    ("camera", "intrusion"): _SMALL_HOURS,
    ("camera", "loitering"): _LOITER,
    ("camera", "crowd"): _CROWD,
    ("camera", "fight"): _LATE_NIGHT,
    ("camera", "plate_hit"): _RUSH,
    ("camera", "face_hit"): _DAYTIME,
    ("grid_report", "dispute"): _WORK_HOURS,
    ("grid_report", "safety_hazard"): _WORK_HOURS,
    ("grid_report", "public_order"): _WORK_HOURS,
    ("grid_report", "fire_hazard"): _WORK_HOURS,
    ("grid_report", "illegal_business"): _WORK_HOURS,
    ("grid_report", "other"): _WORK_HOURS,
}


def _hour_bins(start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins cut at local hour boundaries: (bin start, bin length in ms, local hour of day)."""
    first = (start_ms // HOUR_MS) * HOUR_MS  # +8 h is whole hours, so UTC and local cuts agree
    edges = np.arange(first, end_ms + HOUR_MS, HOUR_MS, dtype=np.int64)
    lo = np.clip(edges[:-1], start_ms, end_ms)
    hi = np.clip(edges[1:], start_ms, end_ms)
    hour = ((edges[:-1] + LOCAL_OFFSET_MS) // HOUR_MS) % 24
    return lo, hi - lo, hour


def _bin_means(
    per_day: float, profile: tuple[float, ...], start_ms: int, end_ms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, length, hour = _hour_bins(start_ms, end_ms)
    weights = np.asarray(profile, dtype=np.float64)
    means = per_day / 24.0 * weights[hour] / weights.mean() * (length / HOUR_MS)
    return lo, length, means


def expected_count(per_day: float, profile: tuple[float, ...], start_ms: int, end_ms: int) -> float:
    """Expected number of events in ``[start_ms, end_ms)`` (epoch milliseconds)."""
    if end_ms <= start_ms:
        return 0.0
    return float(_bin_means(per_day, profile, start_ms, end_ms)[2].sum())


def poisson_times(
    per_day: float,
    profile: tuple[float, ...],
    start_ms: int,
    end_ms: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sorted event times (epoch ms, int64) of a Poisson process following ``profile``."""
    lo, length, means = _bin_means(per_day, profile, start_ms, end_ms)
    counts = rng.poisson(means)
    offsets = rng.random(counts.sum()) * np.repeat(length, counts)
    return np.sort(np.repeat(lo, counts) + offsets.astype(np.int64))
