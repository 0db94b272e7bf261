"""A replay file is looked at before a command commits to it: one that holds no record (missing,
empty, a CSV, a Parquet without rows) is refused with the reason; one bad line is not."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.exceptions import ReplayFileError
from pipeline.replay import check_replay_file
from pipeline.replay.check import LINES_LOOKED_AT

RECORD = json.dumps({"topic": "alerts.camera", "key": "k", "value": {"a": 1}, "ts": 1})


def test_a_csv_is_not_json_lines(tmp_path):
    path = tmp_path / "alerts.csv"
    path.write_text("alert_id,lat,lon\nA1,30.2,120.1\n")
    with pytest.raises(ReplayFileError, match="not a JSON Lines replay file.*first 2 lines"):
        check_replay_file(path, parquet=False)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_an_empty_file_holds_no_records(tmp_path, text):
    path = tmp_path / "replay.jsonl"
    path.write_text(text)
    with pytest.raises(ReplayFileError, match="holds no records"):
        check_replay_file(path, parquet=False)


def test_broken_lines_before_a_record_are_the_reader_s_business(tmp_path):
    path = tmp_path / "replay.jsonl"
    path.write_text("{broken\n" * (LINES_LOOKED_AT - 1) + RECORD + "\n")
    check_replay_file(path, parquet=False)  # the reader reports the broken lines one by one


def test_only_the_first_lines_are_looked_at(tmp_path):
    path = tmp_path / "replay.jsonl"
    path.write_text("{broken\n" * LINES_LOOKED_AT + RECORD + "\n")
    with pytest.raises(ReplayFileError, match=f"first {LINES_LOOKED_AT} lines"):
        check_replay_file(path, parquet=False)


def test_a_missing_file_and_a_folder(tmp_path):
    with pytest.raises(ReplayFileError, match="does not exist"):
        check_replay_file(tmp_path / "nope.jsonl", parquet=False)
    with pytest.raises(ReplayFileError, match="not a file"):
        check_replay_file(tmp_path, parquet=False)


def test_a_parquet_file_without_rows(tmp_path):
    path = tmp_path / "replay.parquet"
    empty = pa.table({"topic": pa.array([], pa.string()), "value": pa.array([], pa.binary())})
    pq.write_table(empty, path)
    with pytest.raises(ReplayFileError, match="holds no records"):
        check_replay_file(path, parquet=True)
    pq.write_table(pa.table({"topic": ["alerts.camera"], "value": [b"{}"]}), path)
    check_replay_file(path, parquet=True)
