"""Warehouse ``alerts`` rows from the normalised alerts' Arrow columns.

The live normalise stage and the backfill both build each batch's alerts once as an
:func:`~pipeline.envelope.envelope_table`, publish it and store it from here. The rows are
exactly what :func:`pipeline.warehouse.rows.alert_rows` builds from the published envelopes (a
test pins the equality), so a consumer of ``alerts.normalized`` that stores them gets the same
table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["alert_columns", "concat_columns", "distinct"]

#: warehouse column ← envelope column, for codes (LowCardinality in ClickHouse)
_UNIT_CODES = {
    "grid_code": "grid",
    "community_code": "community",
    "street_code": "street",
    "district_code": "district",
}
#: text columns stored under their own names; absent (null) becomes ""
_TEXT = (
    "alert_id",
    "source_id",
    "station_id",
    "device",
    "household",
    "caller",
    "camera_id",
    "reporter_id",
    "status",
    "report_ref",
)


def _no_nulls(codes: pa.ChunkedArray) -> pa.DictionaryArray:
    """A dictionary array whose nulls point at an appended ``""`` entry: the warehouse's
    columns are not Nullable, and ``""`` is its "no unit"."""
    array = codes.combine_chunks()
    if not array.null_count:
        return array
    dictionary = pa.concat_arrays([array.dictionary, pa.array([""], pa.string())])
    indices = array.indices.fill_null(len(array.dictionary))
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _filled(column: pa.ChunkedArray, empty, dtype) -> np.ndarray:
    return column.fill_null(empty).to_numpy().astype(dtype, copy=False)


def alert_columns(alerts: pa.Table, ingest_ms: int, origin: np.ndarray | None = None) -> dict:
    """Warehouse ``alerts`` rows of an :func:`~pipeline.envelope.envelope_table`; ``origin``:
    each alert's feed partition (:mod:`pipeline.marks`; None: not known, the column's
    default -1)."""
    rows = {name: alerts.column(name).combine_chunks().fill_null("") for name in _TEXT}
    rows |= {name: alerts.column(name).combine_chunks() for name in ("source", "category")}
    rows |= {name: _no_nulls(alerts.column(field)) for name, field in _UNIT_CODES.items()}
    n = alerts.num_rows
    rows |= {
        "lat": alerts.column("lat").to_numpy(),
        "lon": alerts.column("lon").to_numpy(),
        "severity": alerts.column("severity").to_numpy(),
        "priority": _filled(alerts.column("priority"), 0, np.uint8),
        "confidence": _filled(alerts.column("confidence"), 0.0, np.float32),
        "event_time": alerts.column("event_ms").to_numpy().astype("datetime64[ms]"),
        "ingest_time": np.full(n, ingest_ms, np.int64).astype("datetime64[ms]"),
    }
    if origin is not None:
        rows["origin"] = np.asarray(origin, np.int32)
    return rows


def concat_columns(parts: list[dict]) -> dict:
    """One insert's columns from several :func:`alert_columns` results, in order."""
    return {
        name: pa.concat_arrays([p[name] for p in parts])
        if isinstance(first, pa.Array)
        else np.concatenate([p[name] for p in parts])
        for name, first in parts[0].items()
    }


def distinct(alert_ids: pa.Array) -> bool:
    """Whether no alert id repeats: then no two ``alerts`` rows share a sorting key.

    Dedupe already drops repeats within its horizon; an id seen again after the horizon may
    still share a block (and an hour) with its first sighting, so this is checked, not assumed.
    """
    return pc.count_distinct(alert_ids).as_py() == len(alert_ids)
