"""Replay files read in chunks (JSON Lines and Parquet): same records as line by line, and
every broken line reported with its number while every valid one is read."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.exceptions import ReplayFileError
from pipeline.replay import read_jsonl
from pipeline.replay.chunks import NO_TIMESTAMP, BadLine
from pipeline.replay.jsonl import read_jsonl_chunks
from pipeline.replay.parquet import jsonl_to_parquet, read_parquet_chunks


def flat(chunks):
    return [
        (t, k, bytes(v), int(ts), int(n))
        for c in chunks
        for t, k, v, ts, n in zip(
            c.topic.tolist(), c.key, c.values, c.ts.tolist(), c.line.tolist(), strict=True
        )
    ]


def test_chunks_hold_the_records_of_the_line_reader(city):
    records = list(read_jsonl(city.replay))
    bad: list[BadLine] = []
    got = flat(read_jsonl_chunks(city.replay, bad, chunk_records=1000))
    assert not bad
    assert [
        (r.topic, r.key.decode() if r.key else None, r.value, r.timestamp_ms) for r in records
    ] == [g[:4] for g in got]
    assert [g[4] for g in got] == list(range(1, len(records) + 1))


def test_broken_lines_are_reported_by_number_and_the_rest_read(tmp_path):
    good = [
        json.dumps({"topic": "alerts.camera", "key": f"k{i}", "ts": i, "value": {"n": i}})
        for i in range(10_000)
    ]
    lines = [
        *good[:5000],
        '{"topic": "alerts.camera", "value": {"n": ',
        "",
        "   ",
        '{"topic": 7, "value": {}}',
        '{"topic": "t", "value": "x\\ud800", "raw": true}',
        *good[5000:],
        "garbage",
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\xff\n")
    bad: list[BadLine] = []
    got = flat(read_jsonl_chunks(path, bad, chunk_records=3000))
    assert [b.line_number for b in bad] == [5001, 5004, 5005, 10_006]
    assert all(b.reason for b in bad)
    assert [g[2] for g in got] == [json.dumps({"n": i}).encode() for i in range(10_000)]
    assert [g[4] for g in got] == [*range(1, 5001), *range(5006, 10_006)]


def test_raw_values_come_back_as_their_text_bytes(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"topic": "alerts.camera", "value": "{\\"cut", "raw": true}\n'
        '{"topic": "alerts.camera", "value": {"a": 1}}\n'
    )
    got = flat(read_jsonl_chunks(path, []))
    assert [g[2] for g in got] == [b'{"cut', b'{"a": 1}']
    assert [g[3] for g in got] == [NO_TIMESTAMP, NO_TIMESTAMP]


def test_parquet_gives_the_same_records_as_its_jsonl(city, tmp_path):
    target = tmp_path / "replay.parquet"
    rows = jsonl_to_parquet(city.replay, target, [])
    expected = flat(read_jsonl_chunks(city.replay, []))
    got = flat(read_parquet_chunks(target, [], chunk_records=2048))
    assert rows == len(expected) and got == expected


def test_parquet_rows_without_topic_or_value_are_reported(tmp_path):
    path = tmp_path / "r.parquet"
    table = pa.table(
        {
            "topic": ["alerts.camera", None, "alerts.camera", "alerts.camera"],
            "value": ["{}", "{}", None, '{"x": 1}'],
            "key": [None, "a", "b", "c"],
        }
    )
    pq.write_table(table, path)
    bad: list[BadLine] = []
    got = flat(read_parquet_chunks(path, bad))
    assert [b.line_number for b in bad] == [2, 3]
    assert [(g[2], g[4]) for g in got] == [(b"{}", 1), (b'{"x": 1}', 4)]
    assert np.all(np.array([g[3] for g in got]) == NO_TIMESTAMP)


def test_a_missing_or_wrong_file_is_a_clear_error(tmp_path):
    with pytest.raises(ReplayFileError, match="does not exist"):
        next(read_jsonl_chunks(tmp_path / "nope.jsonl", []))
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(ReplayFileError, match="not a Parquet file"):
        next(read_parquet_chunks(tmp_path / "x.parquet", []))
    pq.write_table(pa.table({"value": ["{}"]}), tmp_path / "y.parquet")
    with pytest.raises(ReplayFileError, match="topic"):
        next(read_parquet_chunks(tmp_path / "y.parquet", []))
