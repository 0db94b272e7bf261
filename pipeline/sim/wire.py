"""The wire format of the four feeds: topic names, field names, and JSON objects for rows.

Field names are a contract with the decoders (``schemas/``); they are spelled once, here.
Messages are compact JSON with keys in contract order and optional fields omitted when absent.
Times are either ISO 8601 with the city's offset ("2026-03-01T21:14:03.250+08:00") or integer
epoch milliseconds, per message.

Grid-report status updates are messages of their own. Re-using the original ``report_id`` would
collide with the identity rule (same source + id = duplicate, dropped), so each update gets the
original id plus a status suffix ("GR-000123-2" dispatched, "GR-000123-3" resolved) and carries
the original in ``parent_report_id``. Camera ``offline``/``online`` notices have confidence 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.alerts import SOURCE_CATEGORIES, SOURCES
from pipeline.sim.details import Details
from pipeline.sim.feeds import FeedEvents
from pipeline.sim.rhythm import LOCAL_OFFSET_MS

__all__ = ["TOPICS", "WireSpec", "WIRE", "format_times", "wire_objects"]

TOPICS: dict[str, str] = {s: f"alerts.{s}" for s in SOURCES}
_STATUSES = ("reported", "dispatched", "resolved")


@dataclass(frozen=True, slots=True)
class WireSpec:
    """Names of one feed's key fields; ``required`` must be in every well-formed message."""

    id: str
    time: str
    category: str
    required: tuple[str, ...]


WIRE: dict[str, WireSpec] = {
    "alarm_phone": WireSpec(
        "event_id",
        "triggered_at",
        "trigger",
        ("event_id", "device_id", "household_id", "trigger", "triggered_at", "lat", "lon"),
    ),
    "dispatch_110": WireSpec(
        "incident_id",
        "received_at",
        "category",
        ("incident_id", "received_at", "category", "priority", "lat", "lon"),
    ),
    "camera": WireSpec(
        "alert_id",
        "detected_at",
        "kind",
        ("alert_id", "camera_id", "detected_at", "kind", "confidence", "lat", "lon"),
    ),
    "grid_report": WireSpec(
        "report_id",
        "reported_at",
        "category",
        ("report_id", "reporter_id", "reported_at", "category", "status"),
    ),
}


def format_times(ms: np.ndarray, iso: np.ndarray) -> list[Any]:
    """Wire times: ISO strings with +08:00 where ``iso``, else epoch-ms integers."""
    local = (np.asarray(ms, dtype=np.int64) + LOCAL_OFFSET_MS).astype("datetime64[ms]")
    text = np.char.add(np.datetime_as_string(local, unit="ms"), "+08:00")
    epoch = np.asarray(ms, dtype=np.int64).astype(object)
    return np.where(iso, text.astype(object), epoch).tolist()


def _common(source: str, ev: FeedEvents, d: Details, rows: np.ndarray) -> dict[str, list]:
    return {
        "id": d["id"][rows].tolist(),
        "time": format_times(ev.event_ms[rows], d["iso"][rows]),
        "category": np.array(SOURCE_CATEGORIES[source])[ev.category[rows]].tolist(),
        "lat": d["lat"][rows].tolist(),
        "lon": d["lon"][rows].tolist(),
    }


def _drop_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _alarm(c, d, rows):
    return [
        _drop_none(
            {
                "event_id": i,
                "device_id": dev,
                "household_id": hh,
                "trigger": cat,
                "triggered_at": t,
                "lat": la,
                "lon": lo,
                "caller_phone": ph,
                "address": ad,
            }
        )
        for i, dev, hh, cat, t, la, lo, ph, ad in zip(
            c["id"],
            d["device_id"][rows].tolist(),
            d["household_id"][rows].tolist(),
            c["category"],
            c["time"],
            c["lat"],
            c["lon"],
            d["caller_phone"][rows].tolist(),
            d["address"][rows].tolist(),
            strict=True,
        )
    ]


def _dispatch(c, d, rows):
    return [
        _drop_none(
            {
                "incident_id": i,
                "received_at": t,
                "category": cat,
                "priority": p,
                "lat": la,
                "lon": lo,
                "station_id": st,
                "caller_phone": ph,
                "summary": sm,
            }
        )
        for i, t, cat, p, la, lo, st, ph, sm in zip(
            c["id"],
            c["time"],
            c["category"],
            d["priority"][rows].tolist(),
            c["lat"],
            c["lon"],
            d["station_id"][rows].tolist(),
            d["caller_phone"][rows].tolist(),
            d["summary"][rows].tolist(),
            strict=True,
        )
    ]


def _camera(c, d, rows):
    return [
        {
            "alert_id": i,
            "camera_id": cam,
            "detected_at": t,
            "kind": k,
            "confidence": cf,
            "lat": la,
            "lon": lo,
        }
        for i, cam, t, k, cf, la, lo in zip(
            c["id"],
            d["camera_id"][rows].tolist(),
            c["time"],
            c["category"],
            d["confidence"][rows].tolist(),
            c["lat"],
            c["lon"],
            strict=True,
        )
    ]


def _grid(c, d, rows, status):
    with_ll = d["with_latlon"][rows].tolist()
    return [
        _drop_none(
            {
                "report_id": i,
                "reporter_id": rep,
                "reported_at": t,
                "category": cat,
                "status": _STATUSES[s],
                "grid_code": g,
                "lat": la if ll else None,
                "lon": lo if ll else None,
                "parent_report_id": par,
            }
        )
        for i, rep, t, cat, s, g, la, lo, ll, par in zip(
            c["id"],
            d["reporter_id"][rows].tolist(),
            c["time"],
            c["category"],
            status,
            d["grid_code"][rows].tolist(),
            c["lat"],
            c["lon"],
            with_ll,
            d["parent_report_id"][rows].tolist(),
            strict=True,
        )
    ]


def wire_objects(source: str, ev: FeedEvents, d: Details, rows: np.ndarray) -> list[dict]:
    """The wire objects of ``rows`` of one feed, in the order given."""
    c = _common(source, ev, d, rows)
    if source == "alarm_phone":
        return _alarm(c, d, rows)
    if source == "dispatch_110":
        return _dispatch(c, d, rows)
    if source == "camera":
        return _camera(c, d, rows)
    return _grid(c, d, rows, ev.status[rows].tolist())
