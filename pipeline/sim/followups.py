"""Messages that follow from other events: how real sources repeat, update and fail.

- Camera analytics fire several alerts for one object within seconds (distinct ``alert_id``,
  same camera and kind): a consumer must collapse them, they are not separate incidents.
- Cameras drop off the network and come back: an ``offline`` alert, silence, an ``online`` alert.
- Panicked residents press the alarm button again a minute or two later.
- Grid reports move on: ``dispatched``, then ``resolved``, each its own message.

Every follow-up row points at the row it follows (``origin``) so its wire message can reuse the
first one's details; all generation is vectorised over events.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.alerts import SOURCE_CATEGORIES
from pipeline.sim.feeds import FeedEvents

__all__ = ["camera_outages", "repeats", "grid_updates"]

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_OUTAGES_PER_CAMERA_DAY = 0.3
_TIME_BITS = 42  # ms since the run start, up to 2**41 (~25 days) plus a 12 h outage tail
_OFFLINE = SOURCE_CATEGORIES["camera"].index("offline")
_ONLINE = SOURCE_CATEGORIES["camera"].index("online")


def _outage_table(n_cameras, scale, start_ms, end_ms, rng):
    """Non-overlapping outages per camera as (camera, start, end) sorted by camera then start."""
    n = rng.poisson(n_cameras * _OUTAGES_PER_CAMERA_DAY * scale * (end_ms - start_ms) / _DAY_MS)
    cam = rng.integers(0, n_cameras, n)
    lo = rng.integers(start_ms, end_ms, n)
    # Median 12 min: mostly network blips, a long tail of hours-long hardware faults.
    hi = lo + np.minimum(rng.lognormal(np.log(12 * _MINUTE_MS), 1.3, n), 12 * 60 * _MINUTE_MS)
    order = np.lexsort((lo, cam))
    cam, lo, hi = cam[order], lo[order], hi.astype(np.int64)[order]
    # Drop an outage that starts before an earlier one of the same camera has ended.
    key_hi = _key(cam, hi, start_ms)
    prev_hi = np.concatenate([[-1], np.maximum.accumulate(key_hi)[:-1]])
    keep = _key(cam, lo, start_ms) > prev_hi
    return cam[keep], lo[keep], hi[keep]


def _key(camera: np.ndarray, t_ms: np.ndarray, start_ms: int) -> np.ndarray:
    """(camera, time) packed into one sortable int64: camera in the high bits."""
    return (camera.astype(np.int64) << _TIME_BITS) + (t_ms - start_ms)


def camera_outages(
    events: FeedEvents,
    cameras_xy: np.ndarray,
    scale: float,
    start_ms: int,
    end_ms: int,
    rng: np.random.Generator,
) -> tuple[FeedEvents, FeedEvents]:
    """Camera events minus those during outages, and the offline/online events themselves."""
    cam, lo, hi = _outage_table(len(cameras_xy), scale, start_ms, end_ms, rng)
    if (end_ms - start_ms) >= 1 << (_TIME_BITS - 1) or len(cameras_xy) >= 1 << 20:
        raise ValueError("camera outages support runs up to 25 days and 1M cameras")
    if len(cam) == 0:
        return events, FeedEvents.concat([])
    key = _key(cam, lo, start_ms)
    ev_key = _key(events.entity, events.event_ms, start_ms)
    i = np.searchsorted(key, ev_key, side="right") - 1
    j = np.maximum(i, 0)
    dark = (i >= 0) & (cam[j] == events.entity) & (events.event_ms < hi[j])
    back = hi < end_ms
    notices = FeedEvents.new(
        np.concatenate([lo, hi[back]]),
        cameras_xy[np.concatenate([cam, cam[back]])],
        np.concatenate([np.full(len(lo), _OFFLINE), np.full(back.sum(), _ONLINE)]),
        np.concatenate([cam, cam[back]]),
    )
    return events.take(~dark), notices


def repeats(
    events: FeedEvents,
    share: float,
    extra_mean: float,
    gap_s: tuple[float, float],
    end_ms: int,
    rng: np.random.Generator,
) -> FeedEvents:
    """Re-sends of ``share`` of the events: a geometric number (mean ``extra_mean``) each,
    spaced by uniform gaps in ``gap_s`` seconds; same place, entity and category, new ids."""
    n = len(events)
    extra = np.where(rng.random(n) < share, rng.geometric(1.0 / extra_mean, n), 0)
    row = np.repeat(np.arange(n), extra)
    gaps = rng.uniform(*gap_s, len(row)) * 1000.0
    cum = np.cumsum(gaps)
    first = np.repeat(np.cumsum(extra) - extra, extra)  # index of each group's first repeat
    within = cum - (cum[first] - gaps[first])
    src = events.take(row)
    out = replace(
        src,
        event_ms=src.event_ms + within.astype(np.int64),
        origin=row,
        status=np.zeros(len(row), dtype=np.int8),
    )
    return out.take(out.event_ms < end_ms)


def grid_updates(events: FeedEvents, end_ms: int, rng: np.random.Generator) -> FeedEvents:
    """``dispatched`` and ``resolved`` follow-ups of grid reports that happen before ``end_ms``."""
    n = len(events)
    dispatched = rng.random(n) < 0.6
    t_disp = events.event_ms + rng.uniform(10, 120, n) * _MINUTE_MS
    # Dispatched cases take hours to close; the rest are settled on the spot or not at all.
    resolved = np.where(dispatched, rng.random(n) < 0.85, rng.random(n) < 0.5)
    t_res = np.where(
        dispatched,
        t_disp + rng.lognormal(np.log(180.0), 0.8, n) * _MINUTE_MS,
        events.event_ms + rng.uniform(5, 60, n) * _MINUTE_MS,
    )
    rows = np.concatenate([np.flatnonzero(dispatched), np.flatnonzero(resolved)])
    times = np.concatenate([t_disp[dispatched], t_res[resolved]]).astype(np.int64)
    status = np.concatenate([np.ones(dispatched.sum()), np.full(resolved.sum(), 2)])
    src = events.take(rows)
    out = FeedEvents(
        event_ms=times,
        xy=src.xy,
        category=src.category,
        entity=src.entity,
        hotspot=src.hotspot,
        origin=rows.astype(np.int64),
        status=status.astype(np.int8),
    )
    return out.take(times < end_ms)
