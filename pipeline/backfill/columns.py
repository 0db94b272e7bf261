"""What a live run derives from an envelope, computed straight from a normalised batch.

Live, a normalised alert travels as a JSON envelope (:mod:`pipeline.envelope`) to the correlator
and the alerts sink. The backfill skips the bytes but must end with the same values: the
correlator sees the severity as the envelope rounds it, and the warehouse row is exactly what
:func:`pipeline.sinks.alert_rows` builds from the envelope (tests pin both equalities).
"""

from __future__ import annotations

import numpy as np

from ..alerts import CATEGORIES, SOURCES, AlertBatch
from ..geo.admin_units import AdminRegistry
from ..normalize import NormalizedBatch

__all__ = ["as_enveloped", "alert_columns"]

_SOURCE_NAMES = np.array(SOURCES, dtype=object)
_CATEGORY_NAMES = np.array(CATEGORIES, dtype=object)
#: warehouse column <- extras column, for text fields carried through as they are
_EXTRA_TEXT = {
    "device": "device_id",
    "household": "household_id",
    "caller": "caller_phone",
    "camera_id": "camera_id",
    "reporter_id": "reporter_id",
    "status": "status",
}


def as_enveloped(alerts: AlertBatch) -> AlertBatch:
    """The batch as a correlator decodes it from envelopes (severity rounded to 4 places)."""
    severity = np.round(alerts.severity.astype(np.float64), 4).astype(np.float32)
    return AlertBatch(
        alert_id=alerts.alert_id, source=alerts.source, event_ms=alerts.event_ms,
        lat=alerts.lat, lon=alerts.lon, category=alerts.category, severity=severity,
        grid=alerts.grid,
    )


def _text(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, "", dtype=object)
    out = values.astype(object)
    out[out == None] = ""  # noqa: E711 - elementwise comparison
    return out


def _number(values: np.ndarray | None, n: int, dtype) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=dtype)
    out = values.astype(object)
    out[out == None] = 0  # noqa: E711 - elementwise comparison
    return out.astype(np.float64).astype(dtype)


def alert_columns(batch: NormalizedBatch, registry: AdminRegistry, ingest_ms: int) -> dict:
    """Warehouse ``alerts`` rows of a normalised batch (what the sink writes from envelopes)."""
    a, extras, n = batch.alerts, batch.extras, len(batch.alerts)
    units = registry.unit_columns(a.grid)
    station = units["station_id"].astype(object)
    if "station_id" in extras:  # the CAD system's own assignment wins over the registry's
        given = extras["station_id"]
        station = np.where(given != None, given, station)  # noqa: E711 - elementwise
    report_ref = None
    if "reporter_id" in extras:
        parent = extras["parent_report_id"]
        report_ref = np.where(parent != None, parent, batch.source_id)  # noqa: E711
    rows = {
        "alert_id": a.alert_id,
        "source": _SOURCE_NAMES[a.source],
        "source_id": _text(batch.source_id, n),
        "category": _CATEGORY_NAMES[a.category],
        "grid_code": _text(units["grid_code"], n),
        "community_code": _text(units["community_code"], n),
        "street_code": _text(units["street_code"], n),
        "district_code": _text(units["district_code"], n),
        "station_id": _text(station, n),
    }
    rows |= {col: _text(extras.get(name), n) for col, name in _EXTRA_TEXT.items()}
    rows["report_ref"] = _text(report_ref, n)
    rows |= {
        "lat": a.lat.astype(np.float64),
        "lon": a.lon.astype(np.float64),
        "severity": as_enveloped(a).severity,
        "priority": _number(extras.get("priority"), n, np.uint8),
        "confidence": _number(extras.get("confidence"), n, np.float32),
        "event_time": a.event_ms.astype("datetime64[ms]"),
        "ingest_time": np.full(n, ingest_ms, np.int64).astype("datetime64[ms]"),
    }
    return rows
