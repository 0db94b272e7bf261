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

__all__ = ["alert_rows", "deadletter_rows"]

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
_ALERT_NUMBERS = {"lat": ("lat", np.float64), "lon": ("lon", np.float64),
                  "severity": ("severity", np.float32), "priority": ("priority", np.uint8),
                  "confidence": ("confidence", np.float32)}


def _texts(records: Sequence, field: str) -> list[str]:
    return [v or "" for v in map(attrgetter(field), records)]


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
