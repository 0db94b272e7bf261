"""Typed Parquet replays: values decoded once at conversion read back as decoding them again."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.feeds.decode import FEEDS, decode_batch
from pipeline.replay.parquet import jsonl_to_parquet, read_parquet_chunks
from pipeline.replay.typed import PREFIX, decode_typed, typed_columns
from tests.feeds.test_decode import GOOD


def _same(a, b) -> None:
    assert a.source == b.source and a.unknown_enum == b.unknown_enum
    assert [(r.index, r.reason, r.detail) for r in a.rejects] == [
        (r.index, r.reason, r.detail) for r in b.rejects
    ]
    for name in ("index", "source_id", "event_ms", "lat", "lon", "category"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert a.columns.keys() == b.columns.keys()
    for name in a.columns:
        assert a.columns[name].tolist() == b.columns[name].tolist(), name
        assert list(map(type, a.columns[name])) == list(map(type, b.columns[name])), name


def _values(source: str) -> list[bytes]:
    """Good values with variations, unknown enums, missing optional fields, and bad ones."""
    good = GOOD[source]
    spec = FEEDS[source]
    variants = [dict(good, **{spec.id_field: f"id-{i}"}) for i in range(5)]
    variants[1][spec.category_field] = "no such category"
    if source == "grid_report":
        variants[2] |= {"status": "no such status", "lat": None, "lon": None}
        del variants[3]["parent_report_id"]
    values = [json.dumps(v).encode() for v in variants]
    return values[:2] + [b"{not json", json.dumps({"x": 1}).encode()] + values[2:] + [b"[]"]


def test_typed_rows_decode_as_the_json_they_came_from():
    for source in FEEDS:
        values = _values(source)
        typed = pa.RecordBatch.from_pydict(
            typed_columns(np.array([f"alerts.{source}"] * len(values), object), values)
        )
        _same(decode_typed(source, values, typed), decode_batch(FEEDS[source], values))


def test_a_typed_row_of_another_feed_is_decoded_from_its_json():
    values = _values("camera")
    # written as if the topic were alarm_phone's: no camera row, nothing taken from the columns
    typed = pa.RecordBatch.from_pydict(
        typed_columns(np.array(["alerts.alarm_phone"] * len(values), object), values)
    )
    assert typed.column(f"{PREFIX}feed").null_count == len(values)  # none decoded as alarm
    _same(decode_typed("camera", values, typed), decode_batch(FEEDS["camera"], values))


def test_typed_parquet_keeps_the_plain_columns_and_adds_the_decoded_ones(city, tmp_path):
    plain, typed = tmp_path / "plain.parquet", tmp_path / "typed.parquet"
    assert jsonl_to_parquet(city.replay, plain, []) == jsonl_to_parquet(
        city.replay, typed, [], typed=True
    )
    base = pq.read_table(plain)
    assert pq.read_table(typed).select(base.column_names).equals(base)
    chunks = list(read_parquet_chunks(typed, []))
    assert all(c.typed is not None and c.typed.num_rows == len(c) for c in chunks)
    assert all(c.typed is None for c in read_parquet_chunks(plain, []))
    # typed columns in a file without the layout marker are not trusted (not read)
    stripped = tmp_path / "stripped.parquet"
    pq.write_table(pq.read_table(typed).replace_schema_metadata(None), stripped)
    assert all(c.typed is None for c in read_parquet_chunks(stripped, []))
