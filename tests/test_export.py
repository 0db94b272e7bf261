"""Export of warehouse rows: fixed order, ISO times, no run-specific columns, JSONL and CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pipeline.exceptions import ConfigurationError
from pipeline.export import export_rows, write_export
from pipeline.warehouse import open_warehouse

DAY = 86_400_000


def exported(settings, what: str, fmt: str) -> str:
    out = io.StringIO()
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        newest = wh.query(
            f"SELECT toUnixTimestamp64Milli(max(event_time)) FROM {wh.database}.alerts"
        )[0][0]
        write_export(export_rows(wh, what, newest - DAY, newest + DAY), out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    "what,key", [("flags", "flag_id"), ("incidents", "incident_id"), ("alerts", "alert_id")]
)
def test_jsonl_rows_are_sorted_by_id_with_iso_times(backfilled_city, what, key):
    rows = [json.loads(line) for line in exported(backfilled_city, what, "jsonl").splitlines()]
    assert rows, f"the city has {what}"
    assert [r[key] for r in rows] == sorted(r[key] for r in rows)
    assert "ingest_time" not in rows[0]
    time_column = {"flags": "boundary_time", "incidents": "first_time", "alerts": "event_time"}[
        what
    ]
    assert all(r[time_column].endswith("+00:00") for r in rows)
    if what == "flags":  # how rare each flag is by chance, as `top` and the dashboards show it
        assert all(r["recurrence_days"] > 0 for r in rows)


def test_two_exports_of_the_same_run_are_identical_and_csv_matches(backfilled_city):
    first = exported(backfilled_city, "flags", "jsonl")
    assert first == exported(backfilled_city, "flags", "jsonl")
    table = list(csv.DictReader(io.StringIO(exported(backfilled_city, "flags", "csv"))))
    rows = [json.loads(line) for line in first.splitlines()]
    assert [r["flag_id"] for r in table] == [r["flag_id"] for r in rows]
    assert [json.loads(r["source_counts"]) for r in table] == [r["source_counts"] for r in rows]


def test_the_range_bounds_the_rows(backfilled_city):
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        assert list(export_rows(wh, "alerts", 0, 1)) == []
        with pytest.raises(ConfigurationError, match="flags, incidents, alerts"):
            export_rows(wh, "nothing", 0, 1)
