"""Bad input, on purpose: which messages are faulty, and what each fault does to the bytes.

Fault classes are exclusive (a message has at most one), drawn per message with the rates of
:class:`~pipeline.sim.config.FaultRates`. Each fault's variant (which field goes missing, which
garbage is sent) comes from two per-message uniforms drawn up front, so encoding a message twice
gives the same bytes, which is what lets a duplicate be byte-identical to its original.

Malformed payloads stay valid UTF-8 (truncated ASCII JSON, proxy error pages, Python reprs, NUL
runs), so a JSON Lines replay file can carry them as text.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

import msgspec
import numpy as np

from pipeline.sim.config import SHANGHAI, FaultRates
from pipeline.sim.wire import WIRE, format_times

__all__ = ["Fault", "draw_faults", "encode_faulty"]

_DAY_MS = 86_400_000
_CLOCK_RESET_MS = round(datetime(2001, 1, 1, tzinfo=SHANGHAI).timestamp() * 1000)
_BOGUS_ENUM = {
    "alarm_phone": ("smoke", "flood", "medical"),
    "dispatch_110": ("noise", "missing_person", "animal"),
    "camera": ("smoke", "fall", "vehicle_stop"),
    "grid_report": ("noise", "sanitation", "parking"),
}
_WRONG_TYPE: dict[str, tuple[tuple[str, Any], ...]] = {
    "alarm_phone": (("lat", "abc"), ("lon", "abc"), ("triggered_at", True), ("device_id", 12345)),
    "dispatch_110": (("priority", "high"), ("lat", "abc"), ("received_at", True), ("category", 7)),
    "camera": (("confidence", "high"), ("lat", "abc"), ("detected_at", True), ("kind", 3)),
    "grid_report": (("status", 2), ("reported_at", True), ("category", 5), ("reporter_id", 1234)),
}
# Null island, Beijing, Shanghai; the fourth variant swaps lat and lon (a classic client bug).
_ELSEWHERE = ((0.0, 0.0), (39.9042, 116.4074), (31.2304, 121.4737))
_GARBAGE = (
    b"",
    b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    b"\x00\x00\x00\x00\x00\x00\x00\x00",
)


class Fault(IntEnum):
    """Fault classes; names match :class:`FaultRates` fields (``NONE`` is a clean message)."""

    NONE = 0
    MALFORMED = 1
    MISSING_FIELD = 2
    WRONG_TYPE = 3
    UNKNOWN_ENUM = 4
    DUPLICATE = 5
    LATE = 6
    OUT_OF_AREA = 7
    FUTURE_TIME = 8
    PAST_TIME = 9


def draw_faults(n: int, rates: FaultRates, rng: np.random.Generator) -> np.ndarray:
    """Fault class (int8) of ``n`` messages. ``DUPLICATE`` marks a message to be sent twice."""
    probs = np.array([getattr(rates, f.name.lower()) for f in Fault if f is not Fault.NONE])
    cum = np.cumsum(probs)
    u = rng.random(n)
    fault = np.searchsorted(cum, u, side="right") + 1
    return np.where(u < cum[-1], fault, 0).astype(np.int8)


def _retime(obj: dict, field: str, ms: int) -> None:
    obj[field] = format_times(np.array([ms]), np.array([isinstance(obj[field], str)]))[0]


def _mutate(source: str, fault: Fault, obj: dict, event_ms: int, u: float) -> dict:
    spec = WIRE[source]
    if fault is Fault.MISSING_FIELD:
        del obj[spec.required[int(u * len(spec.required))]]
    elif fault is Fault.WRONG_TYPE:
        name, value = _WRONG_TYPE[source][int(u * len(_WRONG_TYPE[source]))]
        obj[name] = value
    elif fault is Fault.UNKNOWN_ENUM:
        obj[spec.category] = _BOGUS_ENUM[source][int(u * 3)]
    elif fault is Fault.OUT_OF_AREA:
        k = int(u * 4)
        lat, lon = _ELSEWHERE[k] if k < 3 else (obj.get("lon", 120.15), obj.get("lat", 30.25))
        obj["lat"], obj["lon"] = lat, lon
    elif fault is Fault.FUTURE_TIME:
        _retime(obj, spec.time, event_ms + 2 * _DAY_MS + int(u * 6 * 3_600_000))
    elif fault is Fault.PAST_TIME:
        _retime(obj, spec.time, _CLOCK_RESET_MS + event_ms % _DAY_MS)
    return obj


def _malformed(obj: dict, data: bytes, u1: float, u2: float) -> bytes:
    if u2 < 0.6:  # cut off mid-message: the commonest corruption (buffer limits, crashes)
        return data[: 1 + int(u1 * (len(data) - 2))]
    k = int(u1 * (len(_GARBAGE) + 1))
    return _GARBAGE[k] if k < len(_GARBAGE) else repr(obj).encode()


def encode_faulty(
    source: str,
    fault: int,
    obj: dict,
    event_ms: int,
    u1: float,
    u2: float,
    encode=msgspec.json.encode,
) -> bytes:
    """Wire bytes of ``obj`` with ``fault`` applied (time-only faults leave it untouched)."""
    f = Fault(fault)
    if f is Fault.MALFORMED:
        return _malformed(obj, encode(obj), u1, u2)
    return encode(_mutate(source, f, obj, event_ms, u1))
