"""Flags, incidents or alerts of a time range out of the warehouse, as JSON Lines or CSV.

Rows come in a fixed order (by id, then version) with times as ISO 8601 UTC and without
columns that only say when this run wrote them (``ingest_time``), so the exports of two runs or
two tools over the same input can be compared with ``diff``. Flags are the latest version of
each flag (the table keeps only that one once its parts merge).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import msgspec

from .exceptions import ConfigurationError
from .warehouse import Warehouse

__all__ = ["EXPORTS", "FORMATS", "export_rows", "stored_span", "write_export"]

FORMATS = ("jsonl", "csv")
_UNITS = "grid_code, community_code, street_code, district_code, station_id"
#: what -> (table, time column selecting the range, columns, time columns, order)
EXPORTS: dict[str, tuple[str, str, str, tuple[str, ...], str]] = {
    "flags": (
        "flags",
        "boundary_time",
        "flag_id, version, status, boundary_time, opened_time, first_time, last_time, lat, lon, "
        "radius_m, window_s, cell_id, score, p_value, recurrence_days, gi_z, observed, expected, "
        f"n_sources, source_counts, category_counts, {_UNITS}",
        ("boundary_time", "opened_time", "first_time", "last_time"),
        "flag_id, version",
    ),
    "incidents": (
        "incidents",
        "first_time",
        "incident_id, first_time, last_time, boundary_time, lat, lon, n_alerts, n_sources, "
        f"source_counts, category_counts, max_severity, {_UNITS}",
        ("first_time", "last_time", "boundary_time"),
        "incident_id",
    ),
    "alerts": (
        "alerts",
        "event_time",
        "alert_id, source, source_id, event_time, lat, lon, category, severity, "
        f"{_UNITS}, device, household, caller, priority, camera_id, confidence, reporter_id, "
        "status, report_ref",
        ("event_time",),
        "alert_id",
    ),
}


def stored_span(warehouse: Warehouse, what: str) -> tuple[int, int, int]:
    """How many rows of ``what`` the warehouse holds, and the first and last of their range
    times (epoch ms; 0, 0 when none): what an export that found nothing reports instead."""
    table, when = EXPORTS[what][:2]
    n, first, last = warehouse.query(
        f"SELECT count(), toUnixTimestamp64Milli(min({when})), toUnixTimestamp64Milli(max({when}))"
        f" FROM {warehouse.database}.{table}"
    )[0]
    return int(n), int(first or 0), int(last or 0)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _select(what: str, database: str, since_ms: int, until_ms: int) -> str:
    table, when, columns, times, order = EXPORTS[what]
    names = [c.strip() for c in columns.split(",")]
    # aliases must differ from the columns: ClickHouse applies them in WHERE too
    select = ", ".join(f"toUnixTimestamp64Milli({c}) AS {c}_ms" if c in times else c for c in names)
    return (
        f"SELECT {select} FROM {database}.{table} FINAL "
        f"WHERE {when} >= fromUnixTimestamp64Milli(toInt64({int(since_ms)}), 'UTC') "
        f"AND {when} < fromUnixTimestamp64Milli(toInt64({int(until_ms)}), 'UTC') "
        f"ORDER BY {order}"
    )


def export_rows(warehouse: Warehouse, what: str, since_ms: int, until_ms: int) -> Iterator[dict]:
    """Rows of ``what`` (flags, incidents or alerts) in ``[since_ms, until_ms)``, as dicts."""
    if what not in EXPORTS:
        raise ConfigurationError(f"cannot export {what!r}; choose one of {', '.join(EXPORTS)}")
    cols = warehouse.query_columns(_select(what, warehouse.database, since_ms, until_ms))
    times = EXPORTS[what][3]
    cols = {name[:-3] if name[:-3] in times else name: values for name, values in cols.items()}
    for name in times:
        cols[name] = list(map(_iso, cols[name]))
    for name in ("source_counts", "category_counts"):
        if name in cols:  # Arrow maps arrive as lists of pairs
            cols[name] = [dict(v) if not isinstance(v, dict) else v for v in cols[name]]
    names = list(cols)
    return (dict(zip(names, values, strict=True)) for values in zip(*cols.values(), strict=True))


def write_export(rows: Iterator[dict], out: Path | IO[str], fmt: str) -> int:
    """Write rows as JSON Lines or CSV (maps as JSON text); returns how many."""
    if fmt not in FORMATS:
        raise ConfigurationError(f"format {fmt!r} unknown; choose one of {', '.join(FORMATS)}")
    handle = open(out, "w", newline="") if isinstance(out, Path) else out  # noqa: SIM115
    encode = msgspec.json.Encoder().encode
    n = 0
    try:
        writer = None
        for row in rows:
            if fmt == "jsonl":
                handle.write(encode(row).decode() + "\n")
            else:
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(
                    {k: encode(v).decode() if isinstance(v, dict) else v for k, v in row.items()}
                )
            n += 1
    finally:
        if isinstance(out, Path):
            handle.close()
    return n
