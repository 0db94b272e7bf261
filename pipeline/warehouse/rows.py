"""Columnar warehouse rows from envelopes and dead letters.

Columns are gathered with C-level ``map(attrgetter(...))``; absent optional fields become the
column type's empty value (ClickHouse columns here are not Nullable: cheaper and simpler).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from ..deadletter import DeadLetter
from ..envelope import NormalizedAlert

__all__ = ["alert_rows", "deadletter_rows", "incident_rows", "flag_rows", "notice_event_rows"]

_ALERT_TEXT = {  # warehouse column ← envelope field
    "alert_id": "alert_id",
    "source": "source",
    "source_id": "source_id",
    "category": "category",
    "grid_code": "grid",
    "community_code": "community",
    "street_code": "street",
    "district_code": "district",
    "station_id": "station_id",
    "device": "device",
    "household": "household",
    "caller": "caller",
    "camera_id": "camera_id",
    "reporter_id": "reporter_id",
    "status": "status",
    "report_ref": "report_ref",
}
_ALERT_NUMBERS = {
    "lat": ("lat", np.float64),
    "lon": ("lon", np.float64),
    "severity": ("severity", np.float32),
    "priority": ("priority", np.uint8),
    "confidence": ("confidence", np.float32),
}


def _texts(records: Sequence, field: str) -> np.ndarray:
    values = np.array(list(map(attrgetter(field), records)), dtype=object)
    values[values == None] = ""  # noqa: E711 - elementwise comparison
    return values


def _numbers(records: Sequence, field: str, dtype) -> np.ndarray:
    values = np.array(list(map(attrgetter(field), records)), dtype=object)
    values[values == None] = 0  # noqa: E711 - elementwise comparison
    return values.astype(dtype)


def _ms(values: Sequence[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64).astype("datetime64[ms]")


def alert_rows(envelopes: Sequence[NormalizedAlert]) -> dict[str, object]:
    rows: dict[str, object] = {col: _texts(envelopes, f) for col, f in _ALERT_TEXT.items()}
    rows.update({col: _numbers(envelopes, f, dt) for col, (f, dt) in _ALERT_NUMBERS.items()})
    rows["event_time"] = _ms(list(map(attrgetter("event_ms"), envelopes)))
    rows["ingest_time"] = _ms([int(time.time() * 1000)] * len(envelopes))
    return rows


def deadletter_rows(records: Sequence[DeadLetter]) -> dict[str, object]:
    return {
        "topic": _texts(records, "topic"),
        "partition": _numbers(records, "partition", np.uint32),
        "offset": _numbers(records, "offset", np.uint64),
        "reason": list(map(str, map(attrgetter("reason"), records))),
        "detail": _texts(records, "detail"),
        "source": _texts(records, "source"),
        "alert_id": _texts(records, "alert_id"),
        "received_time": _ms(list(map(attrgetter("received_ms"), records))),
        "payload_sealed": _texts(records, "payload_sealed"),
    }


_UNIT_COLUMNS = ("grid_code", "community_code", "street_code", "district_code", "station_id")


def _unit_columns(records: Sequence) -> dict[str, object]:
    return {name: _texts(records, name) for name in _UNIT_COLUMNS}


def incident_rows(incidents: Sequence) -> dict[str, object]:
    """Warehouse rows of :class:`pipeline.outputs.IncidentMessage` records."""

    def col(name):
        return list(map(attrgetter(name), incidents))

    rows: dict[str, object] = {
        "incident_id": col("incident_id"),
        "first_time": _ms(col("first_event_ms")),
        "last_time": _ms(col("last_event_ms")),
        "boundary_time": _ms(col("boundary_ms")),
        "lat": col("lat"),
        "lon": col("lon"),
        "n_alerts": col("n_alerts"),
        "n_sources": col("n_sources"),
        "source_counts": col("source_counts"),
        "category_counts": col("category_counts"),
        "max_severity": col("max_severity"),
    }
    return rows | _unit_columns(incidents)


def flag_rows(flags: Sequence) -> dict[str, object]:
    """Warehouse rows of :class:`pipeline.outputs.FlagMessage` records (one per version)."""

    def col(name):
        return list(map(attrgetter(name), flags))

    def optional_ms(name):  # None becomes NaT, stored as NULL
        return np.array([-(2**63) if v is None else v for v in col(name)], np.int64).astype(
            "datetime64[ms]"
        )

    rows: dict[str, object] = {
        name: col(name)
        for name in (
            "flag_id",
            "version",
            "status",
            "lat",
            "lon",
            "radius_m",
            "window_s",
            "cell_id",
            "score",
            "p_value",
            "recurrence_days",
            "gi_z",
            "observed",
            "expected",
            "n_sources",
            "source_counts",
            "category_counts",
        )
    }
    rows |= {
        "boundary_time": _ms(col("boundary_ms")),
        "opened_time": _ms(col("opened_ms")),
        "first_time": optional_ms("first_event_ms"),
        "last_time": optional_ms("last_event_ms"),
    }
    return rows | _unit_columns(flags)


def notice_event_rows(events: Sequence) -> dict[str, object]:
    """Warehouse rows of :class:`pipeline.patrol.NoticeEvent` records (one per event); absent
    acting unit, officer pseudonym and reason are stored empty."""

    def col(name):
        return list(map(attrgetter(name), events))

    rows: dict[str, object] = {
        name: col(name)
        for name in (
            "event_id",
            "notice_id",
            "kind",
            "state",
            "addressed_to",
            "flag_id",
            "flag_version",
            "cell_id",
            "lat",
            "lon",
            "radius_m",
            "score",
            "observed",
            "expected",
            "n_sources",
            "receipt_s",
        )
    }
    rows |= {name: [v or "" for v in col(name)] for name in ("unit", "officer", "reason")}
    rows |= {
        "at_time": _ms(col("at_ms")),
        "issued_time": _ms(col("issued_ms")),
        "late": [int(v) for v in col("late")],
    }
    return rows | _unit_columns(events)
