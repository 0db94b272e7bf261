"""Typed columns of a Parquet replay: each value already decoded, beside its bytes.

A Parquet replay holds ``topic``, ``key``, ``value`` (the exact bytes sent) and ``ts``. Written
with ``typed=True`` (:func:`~pipeline.replay.parquet.jsonl_to_parquet`) it also holds, for each
value that decodes, the wire fields :func:`~pipeline.feeds.decode.wire_fields` takes from it:
``decoded.feed`` (source code), ``decoded.source_id``, ``decoded.event_ms``,
``decoded.category`` (as sent), ``decoded.lat``/``decoded.lon`` and the feeds' passthrough and
personal fields. A backfill then builds its batches from these columns
(:func:`~pipeline.feeds.decode.from_fields`) instead of decoding JSON, about 7x cheaper a value
(benchmarks/README.md, "Ingest path, round 2"). Values that did not decode have no typed row:
they are decoded again and rejected with the same reason. A typed row is only used for the feed
it was written for, and only in a file whose metadata carries :data:`LAYOUT_KEY`.

The typed columns hold the same personal data as ``value``: the file is as sensitive as before.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from ..alerts import SOURCE_CODE
from ..feeds.decode import (
    FEEDS,
    DecodedBatch,
    Reject,
    decode_batch,
    decode_structs,
    from_fields,
    wire_fields,
)

__all__ = [
    "LAYOUT_KEY",
    "LAYOUT_VERSION",
    "PREFIX",
    "typed_columns",
    "typed_slots",
    "decoded_from_typed",
    "decode_typed",
    "feed_columns",
]

LAYOUT_KEY = b"hotspot.typed_layout"
LAYOUT_VERSION = b"1"
PREFIX = "decoded."
_NUMBERS = {
    "event_ms": pa.int64(),
    "lat": pa.float64(),
    "lon": pa.float64(),
    "priority": pa.int64(),
    "confidence": pa.float64(),
}
#: every typed field, in file order; text unless listed in _NUMBERS
FIELDS = ("source_id", "event_ms", "category", "lat", "lon") + tuple(
    dict.fromkeys(name for spec in FEEDS.values() for name in spec.passthrough + spec.personal)
)


def typed_columns(
    topics: np.ndarray, values: list, feed_topics: Mapping[str, str] | None = None
) -> dict[str, pa.Array]:
    """The typed columns of one chunk of records (``topics`` and raw ``values``).

    ``feed_topics`` maps topic to feed (default ``alerts.<feed>``); other topics get no row.
    """
    feed_topics = feed_topics or {f"alerts.{source}": source for source in FEEDS}
    n = len(values)
    feed = np.full(n, -1, np.int8)
    fields = {name: np.full(n, None, object) for name in FIELDS}
    for topic, source in feed_topics.items():  # loop per feed
        rows = np.flatnonzero(topics == topic)
        if not len(rows):
            continue
        spec = FEEDS[source]
        structs, ok, _ = decode_structs(spec, [values[i] for i in rows.tolist()])
        rows = rows[np.asarray(ok, np.int64)]
        feed[rows] = SOURCE_CODE[source]
        for name, column in wire_fields(spec, structs).items():
            fields[name][rows] = column
    columns = {f"{PREFIX}feed": pa.array(feed, mask=feed < 0)}
    for name, column in fields.items():
        columns[PREFIX + name] = pa.array(column.tolist(), _NUMBERS.get(name, pa.string()))
    return columns


def _values(column: pa.Array, name: str) -> np.ndarray:
    """A typed column back as the array :func:`wire_fields` makes: int64 event times, float64
    coordinates (NaN where absent), other fields as Python objects (None where absent)."""
    # writable copies: normalising moves grid-only reports to their cell's centroid in place
    if name == "event_ms":
        return column.to_numpy(zero_copy_only=False, writable=True).astype(np.int64, copy=False)
    if name in ("lat", "lon"):
        return column.fill_null(np.nan).to_numpy(zero_copy_only=False, writable=True)
    if name in _NUMBERS:
        return np.fromiter(column.to_pylist(), object, len(column))
    return column.to_numpy(zero_copy_only=False)


def decoded_from_typed(source: str, typed: pa.RecordBatch, slots: np.ndarray) -> DecodedBatch:
    """The decoded batch of rows ``slots`` of ``typed`` (all of feed ``source``), as
    :func:`~pipeline.feeds.decode.decode_batch` makes it of the same values."""
    spec = FEEDS[source]
    rows = typed if len(slots) == typed.num_rows else typed.take(pa.array(slots))
    names = ("source_id", "event_ms", "category", "lat", "lon") + spec.passthrough + spec.personal
    fields = {name: _values(rows.column(PREFIX + name), name) for name in names}
    return from_fields(spec, fields, slots.astype(np.int64, copy=False), [])


def feed_columns(source: str, typed: pa.RecordBatch) -> pa.RecordBatch:
    """The typed columns feed ``source`` reads (fewer to carry and take)."""
    spec = FEEDS[source]
    names = ("feed", "source_id", "event_ms", "category", "lat", "lon") + spec.passthrough
    return typed.select([PREFIX + name for name in names + spec.personal])


def typed_slots(source: str, typed: pa.RecordBatch) -> np.ndarray:
    """Rows of ``typed`` that hold a decoded value of feed ``source``."""
    feed = typed.column(f"{PREFIX}feed").fill_null(-1).to_numpy()
    return np.flatnonzero(feed == SOURCE_CODE[source])


def decode_typed(source: str, values: list, typed: pa.RecordBatch, decoder=None) -> DecodedBatch:
    """What :func:`~pipeline.feeds.decode.decode_batch` gives of ``values`` (of feed
    ``source``), taking the rows ``typed`` holds for this feed from it and decoding only the
    others (in a file written with ``typed=True``, the values that are rejected again)."""
    spec = FEEDS[source]
    slots = typed_slots(source, typed)
    if len(slots) == len(values):  # the common case: nothing to decode
        return decoded_from_typed(source, typed, slots)
    untyped = np.ones(len(values), bool)
    untyped[slots] = False
    others = np.flatnonzero(untyped)
    rest = decode_batch(spec, [values[i] for i in others.tolist()], decoder)
    rejects = [Reject(int(others[r.index]), r.reason, r.detail) for r in rest.rejects]
    if not len(rest):  # every other value rejected
        batch = decoded_from_typed(source, typed, slots)
        batch.rejects, batch.unknown_enum = rejects, batch.unknown_enum + rest.unknown_enum
        return batch
    mine = decoded_from_typed(source, typed, slots)
    rest.index = others[rest.index]
    order = np.argsort(np.concatenate([mine.index, rest.index]), kind="stable")
    return DecodedBatch(
        source=source,
        index=np.concatenate([mine.index, rest.index])[order],
        source_id=np.concatenate([mine.source_id, rest.source_id])[order],
        event_ms=np.concatenate([mine.event_ms, rest.event_ms])[order],
        lat=np.concatenate([mine.lat, rest.lat])[order],
        lon=np.concatenate([mine.lon, rest.lon])[order],
        category=np.concatenate([mine.category, rest.category])[order],
        columns={
            k: np.concatenate([mine.columns[k], rest.columns[k]])[order] for k in mine.columns
        },
        rejects=rejects,
        unknown_enum=mine.unknown_enum + rest.unknown_enum,
    )
