"""Decode a batch of raw Kafka values of one feed into columns, plus the rejects with reasons.

msgspec decodes and validates each value in C; the batch runs through ``list.extend(map(...))``
so the loop over messages stays in C too. When a value fails, ``extend`` has already kept every
value before it, which tells us exactly which one failed: we record it and resume after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import attrgetter

import msgspec
import numpy as np

from ..alerts import CATEGORY_CODE, NEUTRAL_CATEGORY, SOURCE_CATEGORIES
from ..deadletter import Reason
from .alarm_phone import AlarmPhoneAlert
from .camera import CameraAlert
from .dispatch_110 import Dispatch110Alert
from .grid_report import REPORT_STATUSES, GridReport

__all__ = [
    "FeedSpec",
    "FEEDS",
    "Reject",
    "DecodedBatch",
    "decode_batch",
    "epoch_ms",
    "wire_fields",
    "from_fields",
    "decode_structs",
    "reason_of",
]


@dataclass(frozen=True)
class FeedSpec:
    """How one feed's wire fields map onto the envelope."""

    name: str
    wire_type: type[msgspec.Struct]
    id_field: str
    time_field: str
    category_field: str
    #: wire fields carried into the envelope as they are (not personal)
    passthrough: tuple[str, ...] = ()
    #: wire fields holding personal data: pseudonymised before anything leaves the worker
    personal: tuple[str, ...] = ()
    #: coordinates may be absent (grid reports fall back on their cell's centroid)
    optional_coords: bool = False

    def decoder(self) -> msgspec.json.Decoder:
        return msgspec.json.Decoder(self.wire_type)


FEEDS: dict[str, FeedSpec] = {
    spec.name: spec
    for spec in (
        FeedSpec(
            "alarm_phone",
            AlarmPhoneAlert,
            "event_id",
            "triggered_at",
            "trigger",
            personal=("device_id", "household_id", "caller_phone"),
        ),
        FeedSpec(
            "dispatch_110",
            Dispatch110Alert,
            "incident_id",
            "received_at",
            "category",
            passthrough=("priority", "station_id"),
            personal=("caller_phone",),
        ),
        FeedSpec(
            "camera",
            CameraAlert,
            "alert_id",
            "detected_at",
            "kind",
            passthrough=("camera_id", "confidence"),
        ),
        FeedSpec(
            "grid_report",
            GridReport,
            "report_id",
            "reported_at",
            "category",
            passthrough=("reporter_id", "status", "grid_code", "parent_report_id"),
            optional_coords=True,
        ),
    )
}

#: Wire fields free text that is dropped outright: it cannot be pseudonymised meaningfully.
DROPPED_FIELDS = ("address", "summary")


@dataclass(frozen=True, slots=True)
class Reject:
    index: int  # position in the input batch
    reason: Reason
    detail: str


@dataclass
class DecodedBatch:
    """Columns of the values that decoded, in input order; ``index`` maps rows to input slots."""

    source: str
    index: np.ndarray  # int64
    source_id: np.ndarray  # object (str)
    event_ms: np.ndarray  # int64
    lat: np.ndarray  # float64, NaN where the wire had none
    lon: np.ndarray
    category: np.ndarray  # int16 code
    columns: dict[str, np.ndarray]  # passthrough and personal wire fields (object or float)
    rejects: list[Reject] = field(default_factory=list)
    unknown_enum: int = 0  # enum values replaced by their neutral value

    def __len__(self) -> int:
        return len(self.index)

    def take(self, keep: np.ndarray) -> DecodedBatch:
        return DecodedBatch(
            source=self.source,
            index=self.index[keep],
            source_id=self.source_id[keep],
            event_ms=self.event_ms[keep],
            lat=self.lat[keep],
            lon=self.lon[keep],
            category=self.category[keep],
            columns={k: v[keep] for k, v in self.columns.items()},
            rejects=self.rejects,
            unknown_enum=self.unknown_enum,
        )


def reason_of(exc: msgspec.DecodeError) -> Reason:
    """The dead-letter reason of a value msgspec refused (feeds and acks alike)."""
    if not isinstance(exc, msgspec.ValidationError):
        return Reason.MALFORMED_JSON
    message = str(exc)
    if message.startswith("Object missing required field"):
        return Reason.MISSING_FIELD
    if ", got `" in message:
        return Reason.WRONG_TYPE
    return Reason.INVALID_VALUE


#: the detail of a value nested too deeply to decode
_TOO_DEEP = "JSON nested too deeply: objects or arrays within each other beyond the limit"


def _decode_all(
    decoder: msgspec.json.Decoder, values: list[bytes]
) -> tuple[list[msgspec.Struct], list[int], list[Reject]]:
    structs: list[msgspec.Struct] = []
    ok_index: list[int] = []
    rejects: list[Reject] = []
    start = 0
    # One iterator for the whole batch: when decoding a value raises, the iterator has
    # already moved past it, so the next pass resumes right after it. (A new slice or islice
    # per reject would make a batch with many bad messages quadratic in its size.)
    rest = iter(values)
    while start < len(values):
        before = len(structs)
        try:
            structs.extend(map(decoder.decode, rest))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: msgspec's C decoder refuses JSON nested deeper than the
            # interpreter's recursion limit (a fuzzed object of depth 10,000) with it, cleanly,
            # for that value alone; it is bad input like any other, not a failed batch.
            failed = start + len(structs) - before
            reason = (
                reason_of(exc) if isinstance(exc, msgspec.DecodeError) else Reason.MALFORMED_JSON
            )
            detail = _TOO_DEEP if isinstance(exc, RecursionError) else str(exc)
            rejects.append(Reject(failed, reason, detail))
            ok_index.extend(range(start, failed))
            start = failed + 1
        else:
            ok_index.extend(range(start, len(values)))
            break
    return structs, ok_index, rejects


def epoch_ms(times: list[int | datetime]) -> np.ndarray:
    """Epoch milliseconds from a mix of ints (already ms) and timezone-aware datetimes."""
    try:  # the common case, every time an int: one pass in C
        return np.fromiter(times, np.int64, len(times))
    except (TypeError, OverflowError):  # a datetime (or an int beyond int64) among them
        pass
    values = np.fromiter(times, object, len(times))
    is_datetime = np.fromiter(map(isinstance, times, repeat(datetime)), bool, len(times))
    out = np.empty(len(times), dtype=np.int64)
    out[~is_datetime] = values[~is_datetime].astype(np.int64)
    seconds = np.fromiter(map(datetime.timestamp, values[is_datetime]), np.float64)
    out[is_datetime] = np.round(seconds * 1000.0).astype(np.int64)
    return out


_UNKNOWN = -1


def _category_lookup(source: str) -> dict[str, int]:
    return {name: CATEGORY_CODE[name] for name in SOURCE_CATEGORIES[source]}


_CATEGORY_LOOKUP = {source: _category_lookup(source) for source in SOURCE_CATEGORIES}


def _category_codes(source: str, values: list[str]) -> tuple[np.ndarray, int]:
    """Codes into CATEGORIES; values the feed does not define become ``other`` and are counted."""
    # one dict lookup per value in C (map), no sort of the strings as np.unique would do
    lookup = _CATEGORY_LOOKUP[source]
    codes = np.fromiter(map(lookup.get, values, repeat(_UNKNOWN)), np.int16, len(values))
    unknown = codes == _UNKNOWN
    codes[unknown] = CATEGORY_CODE[NEUTRAL_CATEGORY]
    return codes, int(np.count_nonzero(unknown))


def _column(structs: list[msgspec.Struct], name: str, dtype=object) -> np.ndarray:
    # fromiter: no list in between, and no search for nested sequences as np.array does
    return np.fromiter(map(attrgetter(name), structs), dtype, len(structs))


def _optional_float(structs: list[msgspec.Struct], name: str) -> np.ndarray:
    # NumPy turns None into NaN when the dtype is float.
    return np.array(list(map(attrgetter(name), structs)), dtype=np.float64)


def _status_codes(statuses: np.ndarray) -> tuple[np.ndarray, int]:
    """Unknown grid-report statuses become ``reported`` (a new event on the ground)."""
    unknown = ~np.isin(statuses, REPORT_STATUSES)
    statuses = statuses.copy()
    statuses[unknown] = "reported"
    return statuses, int(np.count_nonzero(unknown))


def decode_batch(
    spec: FeedSpec, values: list[bytes], decoder: msgspec.json.Decoder | None = None
) -> DecodedBatch:
    """Decode ``values`` (raw Kafka message values) of feed ``spec``."""
    structs, ok_index, rejects = decode_structs(spec, values, decoder)
    return from_fields(
        spec, wire_fields(spec, structs), np.array(ok_index, dtype=np.int64), rejects
    )


def decode_structs(
    spec: FeedSpec, values: list[bytes], decoder: msgspec.json.Decoder | None = None
) -> tuple[list[msgspec.Struct], list[int], list[Reject]]:
    """The wire structs of the values that decode, their input slots, and the rejects."""
    return _decode_all(decoder or spec.decoder(), values)


def wire_fields(spec: FeedSpec, structs: list[msgspec.Struct]) -> dict[str, np.ndarray]:
    """The wire fields of decoded values, one array each: ``source_id``, ``event_ms`` (epoch
    ms), ``category`` (names as sent), ``lat``, ``lon`` (NaN where absent), and the feed's
    passthrough and personal fields as sent. :func:`from_fields` makes the batch of them."""
    if spec.optional_coords:
        lat, lon = _optional_float(structs, "lat"), _optional_float(structs, "lon")
    else:
        lat, lon = _column(structs, "lat", np.float64), _column(structs, "lon", np.float64)
    return {
        "source_id": _column(structs, spec.id_field),
        "event_ms": epoch_ms(list(map(attrgetter(spec.time_field), structs))),
        "category": _column(structs, spec.category_field),
        "lat": lat,
        "lon": lon,
    } | {name: _column(structs, name) for name in spec.passthrough + spec.personal}


def from_fields(
    spec: FeedSpec, fields: dict[str, np.ndarray], index: np.ndarray, rejects: list[Reject]
) -> DecodedBatch:
    """The decoded batch of :func:`wire_fields` (from msgspec, or from typed replay columns):
    category codes, unknown categories and statuses replaced by their neutral value."""
    category, unknown = _category_codes(spec.name, fields["category"].tolist())
    columns = {name: fields[name] for name in spec.passthrough + spec.personal}
    if "status" in columns:
        columns["status"], unknown_status = _status_codes(columns["status"])
        unknown += unknown_status
    return DecodedBatch(
        source=spec.name,
        index=index,
        source_id=fields["source_id"],
        event_ms=fields["event_ms"],
        lat=fields["lat"],
        lon=fields["lon"],
        category=category,
        columns=columns,
        rejects=rejects,
        unknown_enum=unknown,
    )
