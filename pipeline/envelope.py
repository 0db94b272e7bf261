"""The normalised alerts on ``alerts.normalized``: Arrow IPC record batches, many per record.

Each Kafka record's value is one Arrow IPC stream holding one record batch of normalised
alerts, all for the record's partition and in the order they arrived. Its columns are
:data:`ENVELOPE_SCHEMA`, which is the contract for readers outside the project
(``schemas/wire/normalized.arrow.json`` is generated from it). Units are named by their
registry codes, never by internal indices, and personal fields only appear as pseudonyms.

Why not one JSON object per alert, as the feeds are: encoding, producing, consuming back and
decoding one record per alert (and per halo copy) cost the worker's one thread 18 µs per
alert, five times the cost of consuming the feeds themselves (``benchmarks/hop_cost.py``). A
record of a few thousand alerts costs the broker and the consumer as much as one of them, and
the columns go from NumPy to Arrow and back without a Python object per alert.

:class:`NormalizedAlert` is one row, for tools and tests (:func:`read_envelopes`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import msgspec
import numpy as np
import pyarrow as pa

from .alerts import CATEGORIES, CATEGORY_CODE, SOURCE_CODE, SOURCES, AlertBatch
from .deadletter import Reason
from .exceptions import EnvelopeError
from .feeds.decode import Reject
from .geo.admin_units import AdminRegistry
from .marks import NO_PROGRESS, Origins

__all__ = [
    "ENVELOPE_SCHEMA",
    "ALERT_SCHEMA",
    "NormalizedAlert",
    "EnvelopeBatch",
    "envelope_table",
    "encode_envelopes",
    "decode_envelopes",
    "read_envelopes",
    "rows_as_json",
    "envelope_severity",
    "as_enveloped",
]


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": doc})


_CODE = pa.dictionary(pa.int32(), pa.string())  # registry codes: a few thousand distinct

#: The columns of every record batch on ``alerts.normalized``, in this order.
ENVELOPE_SCHEMA = pa.schema(
    [
        _field("alert_id", pa.string(), '"<source>:<source_id>", unique across feeds', False),
        _field("source", pa.dictionary(pa.int8(), pa.string()), "feed name", False),
        _field("source_id", pa.string(), "the feed's own id of the alert", False),
        _field("event_ms", pa.int64(), "event time, epoch milliseconds UTC", False),
        _field("lat", pa.float64(), "WGS84 latitude", False),
        _field("lon", pa.float64(), "WGS84 longitude", False),
        _field(
            "category",
            pa.dictionary(pa.int16(), pa.string()),
            "category name (shared vocabulary of all feeds)",
            False,
        ),
        _field("severity", pa.float32(), "0..1 weight towards hotspots, 4 decimals", False),
        _field("tile", _CODE, 'coarse tile "ix:iy" that routed the row to this partition', False),
        _field(
            "halo",
            pa.bool_(),
            "a copy for a neighbouring tile's correlator, never stored twice",
            False,
        ),
        _field(
            "origin",
            pa.int32(),
            "feed partition the alert was read from: index of its feed in (alarm_phone, "
            "dispatch_110, camera, grid_report) x partitions per feed + the partition; "
            "watermark marks (records keyed hotspot.watermark) declare each origin's progress",
            False,
        ),
        _field(
            "origin_progress_ms",
            pa.int64(),
            "largest event time the origin had declared before this alert, in its feed "
            "partition's order (its alerts and watermark marks), epoch milliseconds; an alert "
            "more than the allowed lateness behind it is late. Null: not known",
        ),
        _field("grid", _CODE, "registry code of the grid cell; null outside the grid"),
        _field("community", _CODE, "registry code of the community"),
        _field("street", _CODE, "registry code of the street or township"),
        _field("district", _CODE, "registry code of the district"),
        _field("station_id", pa.string(), "responsible police station"),
        _field("device", pa.string(), "alarm device, pseudonym"),
        _field("household", pa.string(), "household, pseudonym"),
        _field("caller", pa.string(), "caller phone, pseudonym"),
        _field("priority", pa.uint8(), "110 priority 1..4"),
        _field("camera_id", pa.string(), "camera"),
        _field("confidence", pa.float64(), "video-analytics confidence 0..1"),
        _field("reporter_id", pa.string(), "grid worker"),
        _field("status", pa.string(), "grid report lifecycle step"),
        _field("report_ref", pa.string(), "grid report the step belongs to"),
    ]
)
#: added per record by encode_envelopes
_ROUTING = ("tile", "halo", "origin", "origin_progress_ms")
#: the columns of :func:`envelope_table`: every alert once, before routing
ALERT_SCHEMA = pa.schema([f for f in ENVELOPE_SCHEMA if f.name not in _ROUTING])


class NormalizedAlert(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One row of :data:`ENVELOPE_SCHEMA`."""

    alert_id: str
    source: str
    source_id: str
    event_ms: int
    lat: float
    lon: float
    category: str
    severity: float
    tile: str
    halo: bool = False
    origin: int = 0
    origin_progress_ms: int | None = None
    grid: str | None = None
    community: str | None = None
    street: str | None = None
    district: str | None = None
    station_id: str | None = None
    device: str | None = None
    household: str | None = None
    caller: str | None = None
    priority: int | None = None
    camera_id: str | None = None
    confidence: float | None = None
    reporter_id: str | None = None
    status: str | None = None
    report_ref: str | None = None


#: envelope field ← extras column (wire name after normalisation)
_EXTRA_TEXT = {
    "device": "device_id",
    "household": "household_id",
    "caller": "caller_phone",
    "camera_id": "camera_id",
    "reporter_id": "reporter_id",
    "status": "status",
}

#: severity travels with 4 decimals: enough for a 0..1 weight
_SEVERITY_DECIMALS = 4
_SOURCE_NAMES = pa.array(SOURCES, pa.string())
_CATEGORY_NAMES = pa.array(CATEGORIES, pa.string())


def envelope_severity(severity: np.ndarray) -> np.ndarray:
    """Severities as a reader of the envelope gets them back (float32)."""
    return np.round(severity.astype(np.float64), _SEVERITY_DECIMALS).astype(np.float32)


def as_enveloped(alerts: AlertBatch) -> AlertBatch:
    """The batch as a correlator decodes it from envelopes: only the severity changes."""
    return AlertBatch(
        alert_id=alerts.alert_id,
        source=alerts.source,
        event_ms=alerts.event_ms,
        lat=alerts.lat,
        lon=alerts.lon,
        category=alerts.category,
        severity=envelope_severity(alerts.severity),
        grid=alerts.grid,
    )


# --- alerts → Arrow ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)  # per registry (identity): its code arrays never change
def _unit_dictionaries(registry: AdminRegistry) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Per unit column: the grid index → unit index map and the unit codes."""
    grids = np.arange(len(registry.grids), dtype=np.int32)
    levels = {
        "grid": (grids, registry.grids.codes),
        "community": (registry.grid_community, registry.communities.codes),
        "street": (registry.grid_street, registry.streets.codes),
        "district": (registry.grid_district, registry.districts.codes),
    }
    return {
        name: (np.asarray(of_grid, np.int32), pa.array(codes.astype(object), pa.string()))
        for name, (of_grid, codes) in levels.items()
    }


def _units(registry: AdminRegistry, grid: np.ndarray) -> dict[str, pa.DictionaryArray]:
    outside = grid < 0
    inside = np.where(outside, 0, grid)
    return {
        name: pa.DictionaryArray.from_arrays(pa.array(of_grid[inside], mask=outside), codes)
        for name, (of_grid, codes) in _unit_dictionaries(registry).items()
    }


def _text(values: np.ndarray | None, n: int) -> pa.Array:
    return pa.nulls(n, pa.string()) if values is None else pa.array(values, pa.string())


def _optional(values: np.ndarray | None, n: int, type_: pa.DataType) -> pa.Array:
    if values is None:
        return pa.nulls(n, type_)
    return pa.array(values.tolist() if values.dtype == object else values, type_)


def envelope_table(batch, registry: AdminRegistry) -> pa.Table:
    """Every alert of a :class:`~pipeline.normalize.NormalizedBatch` once, as
    :data:`ALERT_SCHEMA` columns: what is published (routed, :func:`encode_envelopes`) and
    stored (:func:`pipeline.warehouse.alert_columns.alert_columns`)."""
    a, extras, n = batch.alerts, batch.extras, len(batch.alerts)
    station = registry.unit_columns(a.grid)["station_id"].astype(object)
    station[station == ""] = None
    if "station_id" in extras:  # the CAD system's own assignment wins over the registry's
        given = extras["station_id"]
        station = np.where(given != None, given, station)  # noqa: E711 - elementwise
    report_ref = None
    if "reporter_id" in extras:
        parent = extras["parent_report_id"]
        report_ref = np.where(parent != None, parent, batch.source_id)  # noqa: E711
    columns = {
        "alert_id": pa.array(a.alert_id, pa.string()),
        "source": pa.DictionaryArray.from_arrays(pa.array(a.source, pa.int8()), _SOURCE_NAMES),
        "source_id": pa.array(batch.source_id, pa.string()),
        "event_ms": pa.array(a.event_ms, pa.int64()),
        "lat": pa.array(a.lat, pa.float64()),
        "lon": pa.array(a.lon, pa.float64()),
        "category": pa.DictionaryArray.from_arrays(
            pa.array(a.category, pa.int16()), _CATEGORY_NAMES
        ),
        "severity": pa.array(envelope_severity(a.severity)),
        **_units(registry, a.grid),
        "station_id": pa.array(station, pa.string()),
        **{field: _text(extras.get(column), n) for field, column in _EXTRA_TEXT.items()},
        "priority": _optional(extras.get("priority"), n, pa.uint8()),
        "confidence": _optional(extras.get("confidence"), n, pa.float64()),
        "report_ref": _text(report_ref, n),
    }
    return pa.Table.from_pydict(
        {f.name: columns[f.name] for f in ALERT_SCHEMA}, schema=ALERT_SCHEMA
    )


#: Target size of one record: well below the producer's batch (``producer_batch_bytes``,
#: 512 KiB), which must hold a whole record, and Apache Kafka's 1 MiB ``message.max.bytes``.
MAX_RECORD_BYTES = 256 << 10


def encode_envelopes(
    alerts: pa.Table,
    rows: np.ndarray,
    tiles: np.ndarray,
    halo: np.ndarray,
    max_bytes: int = MAX_RECORD_BYTES,
    *,
    origins: Origins | None = None,
) -> list[bytes]:
    """Record values for ``rows`` of ``alerts`` (an :func:`envelope_table`), in that order:
    Arrow IPC streams of about ``max_bytes`` at most. A row may repeat (halo copies);
    ``tiles[i]`` is the tile key (``bytes``) of ``rows[i]``, ``origins`` where each of
    ``rows`` came from (:mod:`pipeline.marks`; None: all origin 0, nothing declared)."""
    if not len(rows):
        return []
    table = alerts.take(pa.array(rows, pa.int64()))
    distinct, inverse = np.unique(tiles, return_inverse=True)
    names = pa.array([key.decode("ascii") for key in distinct.tolist()], pa.string())
    table = table.append_column(
        ENVELOPE_SCHEMA.field("tile"),
        pa.chunked_array(
            [pa.DictionaryArray.from_arrays(pa.array(inverse.reshape(-1), pa.int32()), names)]
        ),
    )
    table = table.append_column(
        ENVELOPE_SCHEMA.field("halo"), pa.chunked_array([pa.array(halo, pa.bool_())])
    )
    if origins is None:
        origins = Origins(np.zeros(len(rows), np.int64), np.full(len(rows), NO_PROGRESS))
    known = origins.progress_ms != NO_PROGRESS
    table = table.append_column(
        ENVELOPE_SCHEMA.field("origin"),
        pa.chunked_array([pa.array(origins.origin.astype(np.int32), pa.int32())]),
    )
    table = table.append_column(
        ENVELOPE_SCHEMA.field("origin_progress_ms"),
        pa.chunked_array([pa.array(origins.progress_ms, pa.int64(), mask=~known)]),
    )
    table = table.select(ENVELOPE_SCHEMA.names).combine_chunks()
    per_row = max(1, table.nbytes // table.num_rows)
    step = max(1, max_bytes // per_row)
    return [_ipc(table.slice(start, step)) for start in range(0, table.num_rows, step)]


#: Buffers compressed with LZ4 (frame), in the calling thread. Compression keeps the bytes
#: that aiokafka copies in Python, and the broker stores, small: per input alert (1.8 rows with
#: the halo copies) 154 bytes with LZ4 against 336 uncompressed and 94 with ZSTD. What decided
#: it is the CPU of the process, every thread counted, since two worker processes share two
#: cores: encode + decode cost 5.3 µs per alert with LZ4 and no threads, against 8.5 µs with
#: ZSTD on Arrow's threads (the format until 2026-12-06) and 7.0 µs with ZSTD in the calling
#: thread (polls of 5,000, median of 5, one pinned core; benchmarks/README.md, end_to_end.py).
#: Readers take any codec Arrow knows, so records written with ZSTD still read back.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4", use_threads=False)


def _ipc(table: pa.Table) -> bytes:
    # A sliced table still points into the whole batch's buffers; an IPC writer writes only
    # the slice, but every dictionary in full: shrink those larger than the slice (a few
    # alerts of a small poll would otherwise carry the whole registry's codes).
    batch = pa.record_batch(
        [_compact(column.chunk(0), table.num_rows) for column in table.columns],
        schema=ENVELOPE_SCHEMA,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, ENVELOPE_SCHEMA, options=_IPC_OPTIONS) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _compact(array: pa.Array, rows: int) -> pa.Array:
    """A dictionary array of more entries than ``rows`` with only the entries it uses (other
    arrays are returned as they are)."""
    if not isinstance(array, pa.DictionaryArray) or len(array.dictionary) <= max(rows, 64):
        return array
    indices = array.indices.fill_null(-1).to_numpy()
    valid = indices >= 0
    used = np.unique(indices[valid])
    remapped = pa.array(np.searchsorted(used, indices).astype(np.int32), mask=~valid)
    return pa.DictionaryArray.from_arrays(remapped, array.dictionary.take(pa.array(used)))


# --- Arrow → the correlator's columns ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvelopeBatch:
    """Decoded records as the correlator needs them: the alerts as columns, which rows are
    halo copies, where each row came from (:mod:`pipeline.marks`), the record (index into the
    decoded values) each row came from, and each decoded record's whole table (for the few
    rows that are dead-lettered)."""

    alerts: AlertBatch
    halo: np.ndarray
    record: np.ndarray
    tables: dict[int, pa.Table]
    origins: Origins


_CORRELATOR_COLUMNS = (
    "alert_id",
    "source",
    "event_ms",
    "lat",
    "lon",
    "category",
    "severity",
    "halo",
    "origin",
    "origin_progress_ms",
    "grid",
)
_EXPECTED_TYPES = {name: ENVELOPE_SCHEMA.field(name).type for name in _CORRELATOR_COLUMNS}
_NULLABLE = ("grid", "origin_progress_ms")


#: Decompressed in the calling thread: for records of a few thousand rows, handing the buffers
#: to Arrow's threads cost more than it saved (decode 2.67 -> 1.65 µs of process CPU per alert,
#: LZ4 records of polls of 5,000, one pinned core, median of 7, load about 7).
_READ_OPTIONS = pa.ipc.IpcReadOptions(use_threads=False)


def _read(value: bytes) -> pa.Table:
    """One record's table; :class:`EnvelopeError` when it is not an envelope record."""
    try:
        table = pa.ipc.open_stream(value, options=_READ_OPTIONS).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise EnvelopeError(f"not an Arrow IPC stream: {exc}", malformed=True) from exc
    schema = table.schema
    for name, type_ in _EXPECTED_TYPES.items():
        found = schema.field(name).type if name in schema.names else "no column"
        if found != type_:
            raise EnvelopeError(
                f"not an alerts.normalized record: {name} is {found}, expected {type_}"
            )
        if name not in _NULLABLE and table.column(name).null_count:
            raise EnvelopeError(f"{name} is null in {table.column(name).null_count} rows")
    return table


def _names_to_codes(
    column: pa.ChunkedArray, names: pa.Array, vocabulary: dict[str, int], dtype, what: str
) -> np.ndarray:
    """Codes of a dictionary column's names in ``vocabulary``, whose names in code order are
    ``names`` (what this pipeline writes: the indices are the codes)."""
    array = column.combine_chunks()
    indices = array.indices.to_numpy()
    if array.dictionary.equals(names):
        return indices.astype(dtype)
    try:
        lookup = np.array([vocabulary[name] for name in array.dictionary.to_pylist()], dtype)
    except KeyError as exc:
        raise EnvelopeError(f"unknown {what} {exc.args[0]!r}") from None
    return lookup[indices]


def _grid_indices(column: pa.ChunkedArray, registry: AdminRegistry) -> np.ndarray:
    """Registry grid index per row (-1 for null or an unknown code)."""
    array = column.combine_chunks()
    indices = array.indices.fill_null(-1).to_numpy()
    if array.dictionary.equals(_unit_dictionaries(registry)["grid"][1]):
        return indices  # the registry's own codes, in its order (-1: null)
    codes = np.array(array.dictionary.to_pylist(), dtype=object)
    lookup = np.append(registry.grid_index_of(codes) if len(codes) else [], -1).astype(np.int32)
    return lookup[indices]


def _correlator_columns(
    table: pa.Table, registry: AdminRegistry
) -> tuple[AlertBatch, np.ndarray, Origins]:
    alerts = AlertBatch(
        alert_id=table.column("alert_id").to_numpy(),
        source=_names_to_codes(
            table.column("source"), _SOURCE_NAMES, SOURCE_CODE, np.int8, "source"
        ),
        event_ms=table.column("event_ms").to_numpy(),
        lat=table.column("lat").to_numpy(),
        lon=table.column("lon").to_numpy(),
        category=_names_to_codes(
            table.column("category"), _CATEGORY_NAMES, CATEGORY_CODE, np.int16, "category"
        ),
        severity=table.column("severity").to_numpy(),
        grid=_grid_indices(table.column("grid"), registry),
    )
    progress = table.column("origin_progress_ms").fill_null(NO_PROGRESS).to_numpy()
    origin = table.column("origin").to_numpy().astype(np.int64)
    return alerts, table.column("halo").to_numpy(), Origins(origin, progress)


def decode_envelopes(
    values: list[bytes], registry: AdminRegistry
) -> tuple[EnvelopeBatch, list[Reject]]:
    """Records back into the correlator's columns, and a reject for every value that is not
    an envelope record (someone else's record on the topic: it is dead-lettered, and the other
    records go on)."""
    parts, bad = [], []
    for i, value in enumerate(values):  # per record, not per alert: a record holds thousands
        try:
            table = _read(value)
            alerts, halo, origins = _correlator_columns(table, registry)
        except EnvelopeError as exc:
            reason = Reason.MALFORMED_RECORD if exc.malformed else Reason.INVALID_VALUE
            bad.append(Reject(i, reason, f"not an envelope record: {exc}"[:300]))
            continue
        parts.append((i, table, alerts, halo, origins))
    if not parts:
        empty = np.empty(0, np.int64)
        return EnvelopeBatch(
            AlertBatch.empty(), np.empty(0, bool), empty, {}, Origins(empty, empty)
        ), bad
    return EnvelopeBatch(
        alerts=AlertBatch.concat([p[2] for p in parts]),
        halo=np.concatenate([p[3] for p in parts]),
        record=np.repeat([p[0] for p in parts], [len(p[2]) for p in parts]),
        tables={p[0]: p[1] for p in parts},
        origins=Origins(
            np.concatenate([p[4].origin for p in parts]),
            np.concatenate([p[4].progress_ms for p in parts]),
        ),
    ), bad


_JSON = msgspec.json.Encoder()


def read_envelopes(values: list[bytes]) -> list[NormalizedAlert]:
    """Every row of every record, every field (for tools and tests; the worker reads columns)."""
    return [
        alert
        for value in values
        for alert in _alerts(pa.ipc.open_stream(value, options=_READ_OPTIONS).read_all())
    ]


def _alerts(table: pa.Table) -> list[NormalizedAlert]:
    return [NormalizedAlert(**row) for row in _row_dicts(table)]


def rows_as_json(table: pa.Table, rows: list[int]) -> list[bytes]:
    """``rows`` of one record's table as JSON objects: a late alert's dead letter holds its
    own row, not the thousands of alerts of its record."""
    return list(map(_JSON.encode, _row_dicts(table.take(pa.array(rows, pa.int64())))))


def _row_dicts(table: pa.Table) -> list[dict]:
    """Every row as a dict of its non-null fields."""
    names = table.column_names
    return [
        {k: v for k, v in zip(names, row, strict=True) if v is not None}
        for row in zip(*map(_python_values, table.columns), strict=True)
    ]


def _python_values(column: pa.ChunkedArray) -> list:
    # Arrow turns a dictionary column into Python values at about 2 µs a row, and its decoded
    # strings 40x faster (a row has eight dictionary columns).
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array.to_pylist()
