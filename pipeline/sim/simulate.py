"""One simulation run: all feeds' events, their messages in arrival order, and the ground truth.

All random numbers come from ``numpy.random.default_rng(cfg.seed)``, split into independent
child streams per stage (places, hotspots, each feed, details, delivery), so the same city and
config give byte-identical records, and adding hotspots leaves the baseline events unchanged.
Events are generated as columns up front (cheap even for millions); JSON is encoded lazily in
chunks while records are iterated, so memory stays flat for benchmark-sized runs.

>>> from pipeline.sim.city import CityConfig, build_city
>>> city = build_city(CityConfig(seed=1, households=2_000, cameras=200))
>>> sim = simulate(city, SimConfig(seed=1, duration=timedelta(hours=1), scale=0.2))
>>> next(iter(sim.records())).topic.startswith("alerts.")
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec
import numpy as np

from pipeline.alerts import SOURCES
from pipeline.sim.city import City
from pipeline.sim.config import SimConfig
from pipeline.sim.delivery import Messages, schedule
from pipeline.sim.details import Details, describe
from pipeline.sim.faults import Fault, encode_faulty
from pipeline.sim.feeds import DAILY_EVENTS, FeedEvents, baseline_events, daily_rate
from pipeline.sim.followups import camera_outages, grid_updates, repeats
from pipeline.sim.hotspots import PlantedHotspot, draw_hotspots, plant_hotspots
from pipeline.sim.places import Places
from pipeline.sim.rhythm import PROFILES, expected_count
from pipeline.sim.truth import GroundTruth
from pipeline.sim.wire import TOPICS, wire_objects

__all__ = ["SimRecord", "Simulation", "simulate", "scale_for_total"]

#: Messages per distinct event (repeats, status updates, camera notices), measured at scale 1.
_MESSAGES_PER_EVENT = {"alarm_phone": 1.2, "dispatch_110": 1.0, "camera": 2.52, "grid_report": 2.2}
_CHUNK = 65_536


class SimRecord(NamedTuple):
    """One Kafka record: ``value`` is the exact bytes sent (malformed ones included)."""

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int  # arrival time; the Kafka record timestamp


def scale_for_total(messages: int, duration: timedelta, start: datetime | None = None) -> float:
    """The ``scale`` giving about ``messages`` messages from ``start`` over ``duration``.

    Follows the day rhythm: four night hours need a larger scale than four evening hours.
    ``start`` defaults to SimConfig's.
    """
    lo = round((start or SimConfig().start).timestamp() * 1000)
    hi = lo + round(duration.total_seconds() * 1000)
    at_scale_1 = sum(
        expected_count(daily_rate(s, c, 1.0), PROFILES[s, c], lo, hi) * _MESSAGES_PER_EVENT[s]
        for s, c in PROFILES
    )
    return messages / at_scale_1


@dataclass(frozen=True, eq=False)
class Simulation:
    """A generated run. :meth:`records` can be iterated any number of times, same bytes."""

    city: City
    config: SimConfig
    events: dict[str, FeedEvents]  # per feed, sorted by event time
    details: dict[str, Details]
    messages: Messages
    truth: GroundTruth

    def __len__(self) -> int:
        return len(self.messages)

    def records(self) -> Iterator[SimRecord]:
        """All records in arrival order."""
        for lo in range(0, len(self.messages), _CHUNK):
            yield from self._chunk(lo, min(lo + _CHUNK, len(self.messages)))

    def _chunk(self, lo: int, hi: int) -> list[SimRecord]:
        m = self.messages
        src, rows = m.source[lo:hi], m.row[lo:hi]
        out: list[SimRecord | None] = [None] * (hi - lo)
        encode = msgspec.json.Encoder().encode
        for code, source in enumerate(SOURCES):  # loop per feed; encoding is per message
            pos = np.flatnonzero(src == code)
            ev, det = self.events[source], self.details[source]
            objs = wire_objects(source, ev, det, rows[pos])
            keys = [
                None if nk else i.encode()
                for i, nk in zip(
                    det["id"][rows[pos]].tolist(), det["keyless"][rows[pos]].tolist(), strict=True
                )
            ]
            faults = m.fault[lo:hi][pos]
            values = [encode(o) for o in objs]
            for j in np.flatnonzero((faults != Fault.NONE) & (faults != Fault.DUPLICATE)):
                p = lo + pos[j]
                values[j] = encode_faulty(
                    source,
                    int(faults[j]),
                    objs[j],
                    int(ev.event_ms[rows[pos[j]]]),
                    m.u1[p],
                    m.u2[p],
                    encode,
                )
            topic = TOPICS[source]
            stamps = m.arrival_ms[lo:hi][pos].tolist()
            for j, p in enumerate(pos.tolist()):
                out[p] = SimRecord(topic, keys[j], values[j], stamps[j])
        return out  # type: ignore[return-value]


def _feed(
    source: str,
    city: City,
    places: Places,
    planted: list[FeedEvents],
    cfg: SimConfig,
    rng: np.random.Generator,
) -> FeedEvents:
    """A feed's final, time-sorted table: baseline + planted events, then their follow-ups."""
    s, e = cfg.start_ms, cfg.end_ms
    first = FeedEvents.concat([baseline_events(source, places, cfg.scale, s, e, rng), *planted])
    extra: list[FeedEvents] = []
    if source == "camera":
        first, notices = camera_outages(first, city.cameras.xy, cfg.scale, s, e, rng)
        extra = [repeats(first, 0.6, 2.5, (0.3, 12.0), e, rng), notices]
    elif source == "alarm_phone":
        extra = [repeats(first, 0.15, 1.3, (20.0, 300.0), e, rng)]
    elif source == "grid_report":
        extra = [grid_updates(first, e, rng)]
    return FeedEvents.concat([first, *extra]).sorted()


def simulate(city: City, cfg: SimConfig | None = None) -> Simulation:
    """Generate a run over ``city`` (default config if None); reproducible, see above."""
    cfg = cfg if cfg is not None else SimConfig()
    rng = np.random.default_rng(cfg.seed)
    r_places, r_spots, r_plant, r_feeds, r_details, r_delivery = rng.spawn(6)
    places = Places(city, r_places)
    spots = cfg.hotspots if cfg.hotspots is not None else draw_hotspots(city, cfg, r_spots, places)
    planted_truth, planted = plant_hotspots(places, spots, cfg, r_plant)
    events = {
        source: _feed(source, city, places, planted[source], cfg, r)
        for source, r in zip(SOURCES, r_feeds.spawn(len(SOURCES)), strict=True)
    }
    details = {
        source: describe(source, city, events[source], cfg, r)
        for source, r in zip(SOURCES, r_details.spawn(len(SOURCES)), strict=True)
    }
    messages = schedule({s: events[s].event_ms for s in SOURCES}, cfg.faults, r_delivery)
    truth = _truth(city, cfg, planted_truth, events, messages)
    return Simulation(city, cfg, events, details, messages, truth)


def _truth(
    city: City,
    cfg: SimConfig,
    planted: list[PlantedHotspot],
    events: dict[str, FeedEvents],
    messages: Messages,
) -> GroundTruth:
    spots = []
    for i, p in enumerate(planted):
        feeds = {}
        for source in p.spec.feeds:
            mine = events[source].hotspot == i
            feeds[source] = {
                "baseline_expected": round(p.baseline_expected[source], 3),
                "planted_expected": round(p.planted_expected[source], 3),
                "planted": int((mine & (events[source].origin < 0)).sum()),
                "planted_messages": int(mine.sum()),
            }
        s = p.spec
        spots.append(
            {
                "id": s.id,
                "lat": s.lat,
                "lon": s.lon,
                "radius_m": s.radius_m,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "multiplier": s.multiplier,
                "oracle_p": p.oracle_p,
                "feeds": feeds,
            }
        )
    fault_counts = np.bincount(messages.fault, minlength=len(Fault))
    per_topic = np.bincount(messages.source, minlength=len(SOURCES))
    units = city.units
    return GroundTruth(
        seed=cfg.seed,
        config=cfg.to_json(),
        city={
            "bbox": list(city.bbox()),
            "center": list(city.config.center),
            "size_m": list(city.config.size_m),
            "units": {lvl: int((units.level == lvl).sum()) for lvl in sorted(set(units.level))},
            "households": len(city.households.xy),
            "cameras": len(city.cameras.xy),
        },
        hotspots=spots,
        faults={f.name.lower(): int(fault_counts[f]) for f in Fault if f is not Fault.NONE},
        messages={TOPICS[s]: int(per_topic[c]) for c, s in enumerate(SOURCES)},
        events={
            s: {
                "first": int((events[s].origin < 0).sum()),
                "follow_up": int((events[s].origin >= 0).sum()),
                "daily_rate_scale_1": DAILY_EVENTS[s][0],
            }
            for s in SOURCES
        },
    )
