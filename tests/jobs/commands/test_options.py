"""The shared checks of what a person types: times, ranges, files to write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from jobs.commands.options import check_range, new_file, parse_time

#: epoch ms from 1973-03-03 (below it a number is taken for seconds) to the year 2200
MS = st.integers(min_value=100_000_000_000, max_value=7_258_118_400_000)


@given(MS)
def test_epoch_ms_and_its_iso_form_are_the_same_time(ms):
    iso = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    assert parse_time(str(ms)) == ms == parse_time(iso)


@given(st.integers(min_value=1, max_value=99_999_999_999))
def test_epoch_seconds_are_refused_with_the_milliseconds_to_type(seconds):
    with pytest.raises(typer.BadParameter, match=f"epoch seconds.*{seconds * 1000}"):
        parse_time(str(seconds))


def test_a_time_without_offset_is_utc_and_zero_is_the_epoch():
    assert parse_time("2026-11-24T01:00") == parse_time("2026-11-24T09:00+08:00")
    assert parse_time("0") == 0


@given(MS, st.integers(min_value=0, max_value=10**9))
def test_a_range_must_end_after_it_starts(start, length):
    if length:
        check_range(start, start + length)
    else:
        with pytest.raises(typer.BadParameter, match="must be after"):
            check_range(start, start + length)


def test_a_file_to_write_needs_its_folder(tmp_path):
    assert new_file(str(tmp_path / "x.png")) == tmp_path / "x.png"
    with pytest.raises(typer.BadParameter, match="mkdir -p"):
        new_file(str(tmp_path / "missing" / "x.png"))
    with pytest.raises(typer.BadParameter, match="is a folder"):
        new_file(str(tmp_path))
