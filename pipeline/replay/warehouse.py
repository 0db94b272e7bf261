"""Stored alerts as replay records: envelope records for ``alerts.normalized``, routed like live.

The warehouse holds normalised alerts, not the feeds' original bytes (personal fields are
pseudonyms there), so a replay from the warehouse goes to ``alerts.normalized``: the alerts
become the envelope records the normalise stage would have published, each routed to its
tile's partition with halo copies for neighbouring partitions. The correlate stage then
re-correlates the period, e.g. with other thresholds.

A record holds one partition's alerts of at most :data:`RECORD_SPAN_MS` of event time and is
stamped with the first of them, so pacing (``--speed``) keeps that granularity.

The replay is the one producer of the period, in event-time order: its alerts carry the origin
of their feed's first partition, and after each chunk it declares every origin's progress to
every partition (watermark marks, :mod:`pipeline.marks`), so correlators close the period's
windows as it goes. A worker correlating it should not declare the wall clock for quiet feeds
(``idle_mark_s = 0``): that would make the replayed alerts late.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..alerts import SOURCE_CODE, SOURCES
from ..envelope import ALERT_SCHEMA, encode_envelopes
from ..exceptions import ConfigurationError
from ..marks import MARK_KEY, NO_PROGRESS, Marks, Origins, encode_marks, origin_count
from ..routing import TileRouting
from ..warehouse import Warehouse
from .chunks import RecordChunk

__all__ = ["warehouse_chunks", "stored_count", "RECORD_SPAN_MS"]

#: event time one envelope record of a warehouse replay covers at most
RECORD_SPAN_MS = 5_000

_TEXT = (
    "source_id",
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "station_id",
    "device",
    "household",
    "caller",
    "camera_id",
    "reporter_id",
    "status",
    "report_ref",
)
_ENVELOPE_NAME = {
    "grid_code": "grid",
    "community_code": "community",
    "street_code": "street",
    "district_code": "district",
}
#: text columns that hold a value in every row ("" is a value there, not an absence)
_ALWAYS = ("alert_id", "source_id")


def _page(warehouse: Warehouse, where: str, after: tuple[int, str] | None, limit: int) -> dict:
    db = warehouse.database
    keyset = (
        ""
        if after is None
        else (f"AND (toUnixTimestamp64Milli(event_time), alert_id) > ({after[0]}, '{after[1]}')")
    )
    return warehouse.query_columns(
        f"SELECT alert_id, source, toUnixTimestamp64Milli(event_time) AS event_ms, lat, lon, "
        f"category, severity, priority, confidence, {', '.join(_TEXT)} "
        f"FROM {db}.alerts FINAL WHERE {where} {keyset} "
        f"ORDER BY event_time, alert_id LIMIT {int(limit)}"
    )


def _absent_if_empty(values: list, always: bool = False) -> pa.Array:
    text = pa.array(values, pa.string())
    return text if always else pc.if_else(pc.equal(text, ""), None, text)


def _alert_table(cols: dict) -> pa.Table:
    """The page as an :data:`~pipeline.envelope.ALERT_SCHEMA` table: what the normalise
    stage published for these alerts (absent fields were stored as "" or 0)."""
    source = np.array(cols["source"], dtype=object)
    priority = np.array(cols["priority"], dtype=object)
    priority[source != "dispatch_110"] = None
    confidence = np.round(np.array(cols["confidence"], np.float64), 6).astype(object)
    confidence[source != "camera"] = None
    columns = {_ENVELOPE_NAME.get(k, k): _absent_if_empty(cols[k], k in _ALWAYS) for k in _TEXT}
    columns |= {
        "alert_id": pa.array(cols["alert_id"], pa.string()),
        "source": pa.array(cols["source"], pa.string()),
        "event_ms": pa.array(cols["event_ms"], pa.int64()),
        "lat": pa.array(cols["lat"], pa.float64()),
        "lon": pa.array(cols["lon"], pa.float64()),
        "category": pa.array(cols["category"], pa.string()),
        "severity": pa.array(np.round(np.array(cols["severity"], np.float64), 4), pa.float32()),
        "priority": pa.array(priority.tolist(), pa.uint8()),
        "confidence": pa.array(confidence.tolist(), pa.float64()),
    }
    return pa.table({f.name: columns[f.name] for f in ALERT_SCHEMA}).cast(ALERT_SCHEMA)


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


def stored_count(
    warehouse: Warehouse, since_ms: int, until_ms: int, feeds: Sequence[str] = SOURCES
) -> int:
    """How many stored alerts :func:`warehouse_chunks` will read (before halo copies)."""
    where = _where(since_ms, until_ms, feeds)
    return int(
        warehouse.query(f"SELECT count() FROM {warehouse.database}.alerts FINAL WHERE {where}")[0][
            0
        ]
    )


def warehouse_chunks(
    warehouse: Warehouse,
    routing: TileRouting,
    topic: str,
    since_ms: int,
    until_ms: int,
    feeds: Sequence[str] = SOURCES,
    chunk_records: int = 50_000,
) -> Iterator[RecordChunk]:
    """Envelope records of the stored alerts of ``feeds`` in ``[since_ms, until_ms)``, in
    event-time order, for ``topic`` with their partitions; ``RecordChunk.alerts`` counts the
    stored alerts each record carries (halo copies not counted)."""
    where = _where(since_ms, until_ms, feeds)
    after, first = None, 1
    while True:
        cols = _page(warehouse, where, after, chunk_records)
        n = len(cols["alert_id"])
        if n == 0:
            return
        after = (cols["event_ms"][-1], cols["alert_id"][-1])
        yield _records(_alert_table(cols), routing, topic, first)
        first += n


def _records(alerts: pa.Table, routing: TileRouting, topic: str, first: int) -> RecordChunk:
    event_ms = alerts.column("event_ms").to_numpy()
    routed = routing.route(alerts.column("lat").to_numpy(), alerts.column("lon").to_numpy())
    codes = np.array([SOURCE_CODE[s] for s in alerts.column("source").to_pylist()], np.int64)
    origin = codes * routing.partitions  # each feed's first partition
    span = (event_ms[routed.row] - event_ms[0]) // RECORD_SPAN_MS
    order = np.lexsort((routed.row, routed.partition, span))  # rows are in event-time order
    starts = np.flatnonzero(
        np.r_[True, (np.diff(span[order]) != 0) | (np.diff(routed.partition[order]) != 0)]
    )
    values, partitions, stamps, lines, counts = [], [], [], [], []
    for rows in np.split(order, starts[1:]):  # loop per record
        records = encode_envelopes(
            alerts,
            routed.row[rows],
            routed.key[rows],
            routed.halo[rows],
            origins=Origins(origin[routed.row[rows]], np.full(len(rows), NO_PROGRESS)),
        )
        values += records
        partitions += [routed.partition[rows[0]]] * len(records)
        stamps += [event_ms[routed.row[rows[0]]]] * len(records)
        lines += [first + routed.row[rows[0]]] * len(records)
        # progress counts alerts, not records: the first record of a group carries its count
        counts += [int((~routed.halo[rows]).sum())] + [0] * (len(records) - 1)
    keys: list[bytes | None] = [None] * len(values)
    # Every origin has reached the chunk's last event time (rows are in event-time order).
    everyone = np.arange(origin_count(routing.partitions), dtype=np.int64)
    marks = encode_marks(Marks(everyone, np.full(len(everyone), int(event_ms[-1]))))
    for partition in range(routing.partitions):  # loop per partition
        values += marks
        keys += [MARK_KEY] * len(marks)
        partitions += [partition] * len(marks)
        stamps += [int(event_ms[-1])] * len(marks)
        lines += [first + len(event_ms) - 1] * len(marks)
        counts += [0] * len(marks)
    return RecordChunk(
        topic=np.full(len(values), topic, dtype=object),
        key=keys,
        values=values,
        ts=np.array(stamps, np.int64),
        line=np.array(lines, np.int64),
        partition=np.array(partitions, np.int32),
        alerts=np.array(counts, np.int64),
    )
