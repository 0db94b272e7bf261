"""The normalised envelope on ``alerts.normalized``: one JSON object per alert.

This is a contract for consumers outside the project (its JSON Schema is in ``schemas/``).
Units are named by their registry codes, never by internal indices, and personal fields only
appear as pseudonyms. Encoding and decoding run over whole batches with C-level ``map``.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import msgspec
import numpy as np

from .alerts import CATEGORIES, CATEGORY_CODE, SOURCE_CODE, SOURCES, AlertBatch
from .geo.admin_units import AdminRegistry

__all__ = [
    "NormalizedAlert", "EnvelopeBatch", "encode_envelopes", "decode_envelopes", "read_envelopes",
    "envelope_severity", "as_enveloped",
]


class NormalizedAlert(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One normalised alert (WGS84, epoch-ms event time, pseudonymised personal fields)."""

    alert_id: str  # "<source>:<source_id>", unique across feeds
    source: str
    source_id: str
    event_ms: int
    lat: float
    lon: float
    category: str
    severity: float  # 0..1 weight towards hotspots
    tile: str  # coarse tile "ix:iy", the Kafka key
    halo: bool = False  # a copy for a neighbouring tile's correlator; never stored twice
    grid: str | None = None  # registry codes of the four levels
    community: str | None = None
    street: str | None = None
    district: str | None = None
    station_id: str | None = None  # responsible police station
    device: str | None = None  # alarm device, pseudonym
    household: str | None = None  # pseudonym
    caller: str | None = None  # caller phone, pseudonym
    priority: int | None = None  # 110 priority 1..4
    camera_id: str | None = None
    confidence: float | None = None
    reporter_id: str | None = None  # grid worker
    status: str | None = None  # grid report lifecycle step
    report_ref: str | None = None  # grid report the step belongs to


#: envelope field ← extras column (wire name after normalisation)
_EXTRA_FIELDS = {
    "device": "device_id",
    "household": "household_id",
    "caller": "caller_phone",
    "priority": "priority",
    "camera_id": "camera_id",
    "confidence": "confidence",
    "reporter_id": "reporter_id",
    "status": "status",
}
_FIELDS = NormalizedAlert.__struct_fields__


#: severity travels with 4 decimals: enough for a 0..1 weight, and short on the wire
_SEVERITY_DECIMALS = 4


def envelope_severity(severity: np.ndarray) -> np.ndarray:
    """Severities as a reader of the envelope gets them back (float32)."""
    return np.round(severity.astype(np.float64), _SEVERITY_DECIMALS).astype(np.float32)


def as_enveloped(alerts: AlertBatch) -> AlertBatch:
    """The batch as a correlator decodes it from envelopes: only the severity changes."""
    return AlertBatch(
        alert_id=alerts.alert_id, source=alerts.source, event_ms=alerts.event_ms,
        lat=alerts.lat, lon=alerts.lon, category=alerts.category,
        severity=envelope_severity(alerts.severity), grid=alerts.grid,
    )


def _none_if_empty(codes: np.ndarray) -> np.ndarray:
    out = codes.astype(object)
    out[codes == ""] = None
    return out


def encode_envelopes(
    alerts: AlertBatch,
    source_id: np.ndarray,
    extras: dict[str, np.ndarray],
    registry: AdminRegistry,
    rows: np.ndarray,
    tiles: np.ndarray,
    halo: np.ndarray,
) -> list[bytes]:
    """JSON values for ``rows`` of ``alerts`` (a row may repeat: halo copies)."""
    n = len(rows)
    units = registry.unit_columns(alerts.grid[rows])
    station = _none_if_empty(units["station_id"])
    if "station_id" in extras:  # the CAD system's own assignment wins over the registry's
        given = extras["station_id"][rows]
        station = np.where(given != None, given, station)  # noqa: E711 - elementwise
    report_ref = None
    if "reporter_id" in extras:
        parent = extras["parent_report_id"][rows]
        report_ref = np.where(parent != None, parent, source_id[rows])  # noqa: E711
    columns = {
        "alert_id": alerts.alert_id[rows],
        "source": np.array(SOURCES, dtype=object)[alerts.source[rows]],
        "source_id": source_id[rows],
        "event_ms": alerts.event_ms[rows].tolist(),
        "lat": alerts.lat[rows].tolist(),
        "lon": alerts.lon[rows].tolist(),
        "category": np.array(CATEGORIES, dtype=object)[alerts.category[rows]],
        "severity": np.round(alerts.severity[rows].astype(np.float64),
                             _SEVERITY_DECIMALS).tolist(),
        "tile": tiles,
        "halo": halo.tolist(),
        "grid": _none_if_empty(units["grid_code"]),
        "community": _none_if_empty(units["community_code"]),
        "street": _none_if_empty(units["street_code"]),
        "district": _none_if_empty(units["district_code"]),
        "station_id": station,
        "report_ref": report_ref,
    }
    for field, column in _EXTRA_FIELDS.items():
        if column in extras:
            values = extras[column][rows]
            columns[field] = values.tolist() if values.dtype != object else values
    absent = [None] * n
    args = [absent if columns.get(name) is None else columns[name] for name in _FIELDS]
    envelopes = map(NormalizedAlert, *args)
    return list(map(msgspec.json.Encoder().encode, envelopes))


@dataclass(frozen=True, slots=True)
class EnvelopeBatch:
    """Decoded envelopes as the correlator needs them: the alerts as columns, and which rows
    are halo copies."""

    alerts: AlertBatch
    halo: np.ndarray


class _CorrelatorView(msgspec.Struct, frozen=True, gc=False):
    """The envelope fields a correlator reads. Decoding into it skips the other fields, which
    the correlate stage has no use for (the normalise stage already wrote the alerts table)."""

    alert_id: str
    source: str
    event_ms: int
    lat: float
    lon: float
    category: str
    severity: float
    halo: bool = False
    grid: str | None = None


_VIEW_DECODER = msgspec.json.Decoder(_CorrelatorView)
_ENVELOPE_DECODER = msgspec.json.Decoder(NormalizedAlert)


def _codes(names: list[str], vocabulary: dict[str, int], dtype) -> np.ndarray:
    # a dict lookup per name: np.unique over an object array sorts Python strings, 4x slower
    return np.fromiter(map(vocabulary.__getitem__, names), dtype, len(names))


def read_envelopes(values: list[bytes]) -> list[NormalizedAlert]:
    """Whole envelopes, every field (for tools and consumers; the worker reads columns)."""
    return list(map(_ENVELOPE_DECODER.decode, values))


def decode_envelopes(values: list[bytes], registry: AdminRegistry) -> EnvelopeBatch:
    """Envelopes back into the correlator's columns. Values come from this project's own
    topic: a value that does not decode is a bug upstream, so it raises rather than being
    dead-lettered."""
    views = list(map(_VIEW_DECODER.decode, values))
    if not views:
        return EnvelopeBatch(AlertBatch.empty(), np.empty(0, dtype=bool))

    def column(name, dtype=object):
        return np.fromiter(map(attrgetter(name), views), dtype, len(views))

    grid_codes = column("grid")
    grid_codes[grid_codes == None] = ""  # noqa: E711
    alerts = AlertBatch(
        alert_id=column("alert_id"),
        source=_codes(list(map(attrgetter("source"), views)), SOURCE_CODE, np.int8),
        event_ms=column("event_ms", np.int64),
        lat=column("lat", np.float64),
        lon=column("lon", np.float64),
        category=_codes(list(map(attrgetter("category"), views)), CATEGORY_CODE, np.int16),
        severity=column("severity", np.float32),
        grid=registry.grid_index_of(grid_codes),
    )
    return EnvelopeBatch(alerts, column("halo", bool))
