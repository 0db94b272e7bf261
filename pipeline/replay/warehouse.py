"""Stored alerts as replay records: envelopes for ``alerts.normalized``, routed like live.

The warehouse holds normalised alerts, not the feeds' original bytes (personal fields are
pseudonyms there), so a replay from the warehouse goes to ``alerts.normalized``: each alert
becomes the envelope the normalise agent would have published, keyed by its tile and sent to
that tile's partition, with halo copies for neighbouring partitions. The correlate agent then
re-correlates the period, e.g. with other thresholds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec
import numpy as np

from ..alerts import SOURCES
from ..envelope import NormalizedAlert
from ..exceptions import ConfigurationError
from ..routing import TileRouting
from ..warehouse import Warehouse
from .chunks import RecordChunk

__all__ = ["warehouse_chunks", "stored_count"]

_TEXT = ("source_id", "grid_code", "community_code", "street_code", "district_code",
         "station_id", "device", "household", "caller", "camera_id", "reporter_id", "status",
         "report_ref")
_ENVELOPE_NAME = {"grid_code": "grid", "community_code": "community", "street_code": "street",
                  "district_code": "district"}
_encode = msgspec.json.Encoder().encode


def _page(warehouse: Warehouse, where: str, after: tuple[int, str] | None, limit: int) -> dict:
    db = warehouse.database
    keyset = "" if after is None else (
        f"AND (toUnixTimestamp64Milli(event_time), alert_id) > ({after[0]}, '{after[1]}')"
    )
    return warehouse.query_columns(
        f"SELECT alert_id, source, toUnixTimestamp64Milli(event_time) AS event_ms, lat, lon, "
        f"category, severity, priority, confidence, {', '.join(_TEXT)} "
        f"FROM {db}.alerts FINAL WHERE {where} {keyset} "
        f"ORDER BY event_time, alert_id LIMIT {int(limit)}"
    )


def _none_if_empty(values: list) -> np.ndarray:
    out = np.array(values, dtype=object)
    out[(out == "") | (out == None)] = None  # noqa: E711 - elementwise comparison
    return out


def _envelopes(cols: dict, rows: np.ndarray, keys: list[str], halo: np.ndarray) -> list[bytes]:
    """Envelopes of the routed rows, built column-wise (C-level ``map``, no loop per row)."""
    source = np.array(cols["source"], dtype=object)[rows]
    columns = {_ENVELOPE_NAME.get(k, k): _none_if_empty(cols[k])[rows] for k in _TEXT}
    columns["source_id"] = np.array(cols["source_id"], dtype=object)[rows]
    priority = np.array(cols["priority"], dtype=object)[rows]
    priority[source != "dispatch_110"] = None
    confidence = np.round(np.array(cols["confidence"], np.float64), 6).astype(object)[rows]
    confidence[source != "camera"] = None
    columns |= {
        "alert_id": np.array(cols["alert_id"], dtype=object)[rows], "source": source,
        "event_ms": np.array(cols["event_ms"], np.int64)[rows].tolist(),
        "lat": np.array(cols["lat"], np.float64)[rows].tolist(),
        "lon": np.array(cols["lon"], np.float64)[rows].tolist(),
        "category": np.array(cols["category"], dtype=object)[rows],
        "severity": np.round(np.array(cols["severity"], np.float64), 4)[rows].tolist(),
        "tile": keys, "halo": halo.tolist(), "priority": priority, "confidence": confidence,
    }
    args = [columns[name] for name in NormalizedAlert.__struct_fields__]
    return list(map(_encode, map(NormalizedAlert, *args)))


def _where(since_ms: int, until_ms: int, feeds: Sequence[str]) -> str:
    unknown = set(feeds) - set(SOURCES)
    if unknown or not feeds:
        raise ConfigurationError(f"unknown feeds {sorted(unknown)}; feeds are {list(SOURCES)}")
    names = ", ".join(f"'{f}'" for f in feeds)
    return (
        f"event_time >= fromUnixTimestamp64Milli(toInt64({int(since_ms)}), 'UTC') "
        f"AND event_time < fromUnixTimestamp64Milli(toInt64({int(until_ms)}), 'UTC') "
        f"AND source IN ({names})"
    )


def stored_count(warehouse: Warehouse, since_ms: int, until_ms: int,
                 feeds: Sequence[str] = SOURCES) -> int:
    """How many stored alerts :func:`warehouse_chunks` will read (before halo copies)."""
    where = _where(since_ms, until_ms, feeds)
    return int(warehouse.query(f"SELECT count() FROM {warehouse.database}.alerts FINAL "
                               f"WHERE {where}")[0][0])


def warehouse_chunks(
    warehouse: Warehouse,
    routing: TileRouting,
    topic: str,
    since_ms: int,
    until_ms: int,
    feeds: Sequence[str] = SOURCES,
    chunk_records: int = 50_000,
) -> Iterator[RecordChunk]:
    """Envelopes of the stored alerts of ``feeds`` in ``[since_ms, until_ms)``, in event-time
    order, as records for ``topic`` with their partitions."""
    where = _where(since_ms, until_ms, feeds)
    after, first = None, 1
    while True:
        cols = _page(warehouse, where, after, chunk_records)
        n = len(cols["alert_id"])
        if n == 0:
            return
        after = (cols["event_ms"][-1], cols["alert_id"][-1])
        routed = routing.route(np.array(cols["lat"], np.float64), np.array(cols["lon"], np.float64))
        keys = np.char.decode(routed.key, "ascii").tolist()
        event_ms = np.array(cols["event_ms"], np.int64)[routed.row]
        yield RecordChunk(
            topic=np.full(len(keys), topic, dtype=object), key=keys,
            values=_envelopes(cols, routed.row, keys, routed.halo), ts=event_ms,
            line=first + routed.row.astype(np.int64), partition=routed.partition.astype(np.int32),
        )
        first += n
