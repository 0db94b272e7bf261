"""What each message says besides time and place: ids, devices, priorities, optional fields.

Drawn column-wise for a whole feed after its events are final and sorted, so ids count up in
event-time order. Follow-up rows (repeats, status updates) copy their origin's details where a
real source would: the same caller, the same grid cell, a near-identical camera confidence.
Optional fields are ``None`` where the message omits them.
"""

from __future__ import annotations

import numpy as np

from pipeline.alerts import SOURCE_CATEGORIES
from pipeline.geo.gcj02 import wgs84_to_gcj02
from pipeline.sim.city import City
from pipeline.sim.config import SimConfig
from pipeline.sim.feeds import FeedEvents
from pipeline.sim.names import mobile_numbers
from pipeline.sim.population import locate
from pipeline.sim.rhythm import LOCAL_OFFSET_MS

__all__ = ["Details", "describe"]

#: Column name -> array (str/object/number), one entry per event row.
Details = dict[str, np.ndarray]

# P(priority 1..4) per 110 category: violence and fire are urgent, fraud and theft can wait.
_PRIORITY: dict[str, tuple[float, float, float, float]] = {
    "robbery": (0.6, 0.3, 0.1, 0),
    "assault": (0.4, 0.4, 0.2, 0),
    "fire": (0.7, 0.25, 0.05, 0),
    "burglary": (0.1, 0.4, 0.4, 0.1),
    "theft": (0.02, 0.2, 0.5, 0.28),
    "dispute": (0.05, 0.25, 0.45, 0.25),
    "traffic": (0.1, 0.3, 0.4, 0.2),
    "fraud": (0.01, 0.1, 0.4, 0.49),
    "public_order": (0.05, 0.3, 0.45, 0.2),
    "other": (0.02, 0.1, 0.38, 0.5),
}
_SUMMARY: dict[str, tuple[str, ...]] = {
    "theft": ("E-bike stolen outside a shop", "Wallet taken on a bus", "Phone snatched"),
    "robbery": ("Robbery at knifepoint reported", "Bag snatched by two men on a scooter"),
    "burglary": ("Door forced, flat ransacked", "Break-in at a ground-floor shop"),
    "assault": ("Man injured in a fight", "Caller assaulted by a stranger"),
    "fraud": ("Telecom fraud, money transferred", "Fake customer-service call"),
    "dispute": (
        "Neighbours arguing over noise",
        "Dispute between shop and customer",
        "Family dispute",
    ),
    "traffic": ("Two-car collision, no injuries", "Scooter hit by a car", "Road blocked"),
    "fire": ("Smoke from a kitchen", "Fire in a rubbish bin"),
    "public_order": ("Drunk people shouting", "Group gathering, blocking the street"),
    "other": ("Lost child found", "Caller requests assistance", "Animal on the road"),
}


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    if n == 0:  # np.char.zfill cannot size an empty array
        return np.empty(0, dtype=str)
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _optional(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[~present] = None
    return out


def _inherit(ev: FeedEvents, mine: np.ndarray) -> np.ndarray:
    """Follow-ups take their origin's value (origins precede them in a sorted table)."""
    return np.where(ev.origin >= 0, mine[np.maximum(ev.origin, 0)], mine)


def _alarm(city: City, ev: FeedEvents, rng) -> Details:
    hh = city.households
    return {
        "id": _ids("AE", len(ev), 8),
        "device_id": hh.device_id[ev.entity],
        "household_id": hh.household_id[ev.entity],
        "caller_phone": _optional(hh.phone[ev.entity], _inherit(ev, rng.random(len(ev)) < 0.7)),
        "address": _optional(hh.address[ev.entity], _inherit(ev, rng.random(len(ev)) < 0.8)),
    }


def _dispatch(city: City, ev: FeedEvents, rng) -> Details:
    n = len(ev)
    cats = SOURCE_CATEGORIES["dispatch_110"]
    priority = np.zeros(n, dtype=np.int64)
    summary = np.empty(n, dtype=object)
    for code, cat in enumerate(cats):  # loop per category
        rows = np.flatnonzero(ev.category == code)
        priority[rows] = rng.choice(4, len(rows), p=_PRIORITY[cat]) + 1
        summary[rows] = np.array(_SUMMARY[cat], dtype=object)[
            rng.integers(0, len(_SUMMARY[cat]), len(rows))
        ]
    cell = locate(city.units, ev.xy)
    station = np.where(cell >= 0, city.units.station[np.maximum(cell, 0)], -1)
    day = np.datetime_as_string((ev.event_ms + LOCAL_OFFSET_MS).astype("datetime64[ms]"), "D")
    return {
        "id": np.char.add(
            np.char.add("110-", np.char.replace(day, "-", "")), np.char.add("-", _ids("", n, 6))
        ),
        "priority": priority,
        "station_id": _optional(
            city.units.code[np.maximum(station, 0)], (station >= 0) & (rng.random(n) < 0.9)
        ),
        "caller_phone": _optional(mobile_numbers(n, rng), rng.random(n) < 0.85),
        "summary": _optional(summary, rng.random(n) < 0.7),
    }


def _camera(city: City, ev: FeedEvents, rng) -> Details:
    n = len(ev)
    conf = rng.beta(8.0, 3.0, n)
    # Repeats of one object score nearly the same; device notices are certain.
    conf = np.clip(_inherit(ev, conf) + np.where(ev.origin >= 0, rng.normal(0, 0.02, n), 0), 0, 1)
    notice = ev.category >= SOURCE_CATEGORIES["camera"].index("offline")
    return {
        "id": _ids("CA", n, 10),
        "camera_id": city.cameras.camera_id[ev.entity],
        "confidence": np.round(np.where(notice, 1.0, conf), 3),
    }


def _grid(city: City, ev: FeedEvents, rng) -> Details:
    n = len(ev)
    first = ev.origin < 0
    base = np.empty(n, dtype=object)
    base[first] = _ids("GR-", int(first.sum()), 6)
    base = _inherit(ev, base)
    # Status updates get their own id (same source + id would read as a duplicate):
    # "GR-000123-2" dispatched, "GR-000123-3" resolved, original in parent_report_id.
    suffix = np.array(["", "-2", "-3"], dtype=object)[ev.status]
    where = _inherit(ev, rng.choice(3, n, p=[0.7, 0.2, 0.1]))  # both, code only, lat/lon only
    return {
        "id": base + suffix,
        "parent_report_id": _optional(base, ~first),
        "reporter_id": city.workers.reporter_id[ev.entity],
        "grid_code": _optional(city.units.code[city.workers.grid[ev.entity]], where != 2),
        "with_latlon": where != 1,
    }


_DESCRIBE = {
    "alarm_phone": _alarm,
    "dispatch_110": _dispatch,
    "camera": _camera,
    "grid_report": _grid,
}


def describe(
    source: str, city: City, ev: FeedEvents, cfg: SimConfig, rng: np.random.Generator
) -> Details:
    """Every wire detail of a sorted feed table, plus ``lat``/``lon``, ``iso`` and ``keyless``."""
    details = _DESCRIBE[source](city, ev, rng)
    lat, lon = city.to_latlon(ev.xy)
    if source in cfg.gcj02_sources:
        lat, lon = wgs84_to_gcj02(lat, lon)
    n = len(ev)
    details["lat"] = np.round(lat, 6)
    details["lon"] = np.round(lon, 6)
    details["iso"] = rng.random(n) < cfg.iso_share.get(source)
    details["keyless"] = rng.random(n) < cfg.null_key_share
    return details
