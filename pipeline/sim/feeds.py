"""Events of each feed as columns, and the baseline (no hotspot) stream of each feed.

Volumes at ``scale=1`` are a mid-size city's normal day: ~200 alarm-phone messages, ~3000 110
dispatches, ~200k camera alerts (after each detection's repeats), ~2000 grid-report messages
(after status updates). The tables here hold *distinct events*; repeats, status updates and
camera offline/online come from :mod:`pipeline.sim.followups`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from pipeline.alerts import SOURCE_CATEGORIES
from pipeline.sim.places import Places
from pipeline.sim.rhythm import PROFILES, poisson_times

__all__ = ["DAILY_EVENTS", "FeedEvents", "daily_rate", "baseline_events"]

#: Distinct events a day at scale 1 per feed, and the category mix (shares sum to 1).
DAILY_EVENTS: dict[str, tuple[float, dict[str, float]]] = {
    # ~15 % of alarms get re-pressed (follow-ups), bringing the feed to ~200 messages.
    "alarm_phone": (
        175.0,
        {"test": 0.32, "intrusion": 0.25, "panic": 0.18, "gas": 0.12, "fire": 0.11, "tamper": 0.02},
    ),
    "dispatch_110": (
        3000.0,
        {
            "dispute": 0.24,
            "theft": 0.22,
            "traffic": 0.20,
            "fraud": 0.08,
            "public_order": 0.08,
            "assault": 0.05,
            "burglary": 0.04,
            "other": 0.05,
            "fire": 0.02,
            "robbery": 0.02,
        },
    ),
    # Each detection fires 2.5 alerts on average (repeats), plus ~2k offline/online a day.
    "camera": (
        79_000.0,
        {
            "plate_hit": 0.46,
            "loitering": 0.20,
            "crowd": 0.15,
            "intrusion": 0.12,
            "face_hit": 0.06,
            "fight": 0.01,
        },
    ),
    # Initial reports; dispatched and resolved updates bring it to ~2000 messages.
    "grid_report": (
        900.0,
        {
            "safety_hazard": 0.25,
            "dispute": 0.20,
            "illegal_business": 0.20,
            "public_order": 0.15,
            "fire_hazard": 0.10,
            "other": 0.10,
        },
    ),
}


def daily_rate(source: str, category: str, scale: float) -> float:
    """Distinct events a day of one (feed, category) at ``scale``."""
    total, mix = DAILY_EVENTS[source]
    return total * mix.get(category, 0.0) * scale


@dataclass(frozen=True, eq=False)
class FeedEvents:
    """Events of one feed, one array per column, all the same length."""

    event_ms: np.ndarray  # int64 epoch ms
    xy: np.ndarray  # (n, 2) float64 metres
    category: np.ndarray  # int16 index into SOURCE_CATEGORIES[source]
    entity: np.ndarray  # int64 household / camera / worker index, -1 for none
    hotspot: np.ndarray  # int16 planted hotspot index, -1 for baseline
    origin: np.ndarray  # int64 row of the event this one follows up, -1 for a first event
    status: np.ndarray  # int8 grid-report status (0 reported, 1 dispatched, 2 resolved)

    def __len__(self) -> int:
        return len(self.event_ms)

    def take(self, index: np.ndarray) -> FeedEvents:
        return FeedEvents(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[FeedEvents]) -> FeedEvents:
        if not parts:
            return cls.new([], np.empty((0, 2)), [], [])
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    @classmethod
    def new(cls, event_ms, xy, category, entity, hotspot: int = -1) -> FeedEvents:
        n = len(event_ms)
        return cls(
            event_ms=np.asarray(event_ms, dtype=np.int64),
            xy=np.asarray(xy, dtype=np.float64).reshape(n, 2),
            category=np.asarray(category, dtype=np.int16),
            entity=np.asarray(entity, dtype=np.int64),
            hotspot=np.full(n, hotspot, dtype=np.int16),
            origin=np.full(n, -1, dtype=np.int64),
            status=np.zeros(n, dtype=np.int8),
        )

    def sorted(self) -> FeedEvents:
        """Rows in event-time order (stable), origins re-pointed to the new rows."""
        order = np.argsort(self.event_ms, kind="stable")
        out = self.take(order)
        new_row = np.empty_like(order)
        new_row[order] = np.arange(len(order))
        origin = np.where(out.origin >= 0, new_row[np.maximum(out.origin, 0)], -1)
        return FeedEvents(
            **{**{f.name: getattr(out, f.name) for f in fields(out)}, "origin": origin}
        )


def baseline_events(
    source: str,
    places: Places,
    scale: float,
    start_ms: int,
    end_ms: int,
    rng: np.random.Generator,
) -> FeedEvents:
    """The feed's normal activity over ``[start_ms, end_ms)``, category by category."""
    parts = []
    for code, category in enumerate(SOURCE_CATEGORIES[source]):  # loop per category
        per_day = daily_rate(source, category, scale)
        if per_day <= 0:
            continue
        times = poisson_times(per_day, PROFILES[source, category], start_ms, end_ms, rng)
        xy, entity = places.anchors(source, category).sample(len(times), rng)
        parts.append(FeedEvents.new(times, xy, np.full(len(times), code), entity))
    return FeedEvents.concat(parts)
