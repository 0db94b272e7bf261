"""Replay files: records in order, raw values sent as recorded, broken lines reported."""

from __future__ import annotations

import json

import pytest

from pipeline.exceptions import ReplayFileError
from pipeline.replay.chunks import BadLine
from pipeline.replay.jsonl import ReplayRecord, read_jsonl


def write(tmp_path, *lines: bytes | str):
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"".join((ln.encode() if isinstance(ln, str) else ln) + b"\n" for ln in lines))
    return path


def line(**obj) -> str:
    return json.dumps(obj)


def test_records_come_in_file_order_with_keys_and_value_bytes(tmp_path):
    path = write(
        tmp_path,
        line(topic="alerts.camera", key="cam-1", value={"alert_id": "a1", "confidence": 0.5}),
        line(topic="alerts.dispatch_110", value={"incident_id": "i1"}),
        line(topic="alerts.camera", key="cam-2", value=[1, 2]),
        line(topic="alerts.camera", value=7),
    )
    records = list(read_jsonl(path))
    assert records == [
        ReplayRecord("alerts.camera", b"cam-1", b'{"alert_id": "a1", "confidence": 0.5}'),
        ReplayRecord("alerts.dispatch_110", None, b'{"incident_id": "i1"}'),
        ReplayRecord("alerts.camera", b"cam-2", b"[1, 2]"),
        ReplayRecord("alerts.camera", None, b"7"),
    ]


def test_value_bytes_are_the_recorded_text_verbatim(tmp_path):
    raw_value = '{ "b":1,   "a" : "\\u00e9é" }'
    path = write(tmp_path, '{"topic": "t", "value": ' + raw_value + "}")
    (record,) = read_jsonl(path)
    assert record.value == raw_value.encode()


def test_raw_lines_send_the_recorded_broken_bytes(tmp_path):
    broken = '{"alert_id": "a1", "confidence": '  # truncated on the wire
    path = write(
        tmp_path,
        line(topic="alerts.camera", value=broken, raw=True),
        line(topic="alerts.camera", value="caf\u00e9 \u6d4b\u8bd5", raw=True),
        line(topic="alerts.camera", value="not raw", raw=False),
    )
    records = list(read_jsonl(path))
    assert [r.value for r in records] == [
        broken.encode(),
        "caf\u00e9 \u6d4b\u8bd5".encode(),
        b'"not raw"',
    ]


def test_broken_lines_are_reported_with_line_numbers_and_skipped(tmp_path):
    path = write(
        tmp_path,
        line(topic="t", value={"n": 1}),  # 1
        "{not json",  # 2
        "",  # 3 blank: skipped silently
        line(value={"n": 2}),  # 4 no topic
        line(topic="t", value=5, raw=True),  # 5 raw value must be a string
        line(topic=3, value={}),  # 6 wrong type
        b'{"topic": "\xe9", "value": 1}',  # 7 not UTF-8
        "   ",  # 8 blank
        line(topic="t", value={"n": 3}),  # 9
        line(topic="t"),  # 10 no value
    )
    bad: list[BadLine] = []
    records = list(read_jsonl(path, bad))
    assert [r.value for r in records] == [b'{"n": 1}', b'{"n": 3}']
    assert [b.line_number for b in bad] == [2, 4, 5, 6, 7, 10]
    assert all(b.reason for b in bad)
    assert "topic" in bad[1].reason and "value" in bad[5].reason


def test_invalid_utf8_line_does_not_stop_the_replay(tmp_path):
    """Regression: a line with invalid UTF-8 in a string raised UnicodeDecodeError."""
    path = write(tmp_path, b'{"topic": "t\xff", "value": 1}', line(topic="t", value=2))
    bad: list[BadLine] = []
    assert [r.value for r in read_jsonl(path, bad)] == [b"2"]
    assert [b.line_number for b in bad] == [1]


def test_broken_lines_are_skipped_without_a_report_list(tmp_path):
    path = write(tmp_path, "garbage", line(topic="t", value=1))
    assert [r.value for r in read_jsonl(path)] == [b"1"]


def test_missing_file_raises_replay_file_error(tmp_path):
    with pytest.raises(ReplayFileError, match="does not exist"):
        list(read_jsonl(tmp_path / "nope.jsonl"))


def test_empty_file_yields_nothing(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(read_jsonl(path)) == []
