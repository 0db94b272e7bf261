"""Warehouse ``alerts`` rows straight from a normalised batch, as columns.

The live normalise stage and the backfill both write the alerts table from here, before any
envelope is encoded. The rows are exactly what :func:`pipeline.sinks.alert_rows` builds from the
batch's envelopes (severity rounded as the envelope rounds it; a test pins the equality), so a
consumer of ``alerts.normalized`` that stores envelopes gets the same table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..alerts import CATEGORIES, SOURCES
from ..envelope import envelope_severity
from ..geo.admin_units import AdminRegistry
from ..normalize import NormalizedBatch

__all__ = ["alert_columns", "concat_columns", "distinct"]

_SOURCE_NAMES = pa.array(SOURCES, pa.string())
_CATEGORY_NAMES = pa.array(CATEGORIES, pa.string())
#: warehouse column <- extras column, for text fields carried through as they are
_EXTRA_TEXT = {
    "device": "device_id",
    "household": "household_id",
    "caller": "caller_phone",
    "camera_id": "camera_id",
    "reporter_id": "reporter_id",
    "status": "status",
}


# Text columns go to the warehouse as Arrow arrays: the embedded warehouse takes them as they
# are, and a column of codes becomes a dictionary array (LowCardinality in ClickHouse) without
# a Python string per row.


def _text(values: np.ndarray | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.string()).fill_null("")
    return pa.array(values, pa.string()).fill_null("")  # None (absent) becomes ""


def _coded(codes: np.ndarray, names: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32, copy=False)), names)


def _unit_codes(registry: AdminRegistry, grid: np.ndarray) -> dict[str, pa.DictionaryArray]:
    """Grid, community, street and district codes of grid indices, ``""`` outside the grid."""
    outside = grid < 0
    levels = {
        "grid_code": (grid, registry.grids.codes),
        "community_code": (registry.grid_community[grid], registry.communities.codes),
        "street_code": (registry.grid_street[grid], registry.streets.codes),
        "district_code": (registry.grid_district[grid], registry.districts.codes),
    }
    out = {}
    for column, (index, codes) in levels.items():  # loop per admin level
        names = pa.array(np.append(codes.astype(object), ""), pa.string())  # codes are unique
        out[column] = _coded(np.where(outside, len(codes), index), names)
    return out


def _number(values: np.ndarray | None, n: int, dtype) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=dtype)
    out = values.astype(object)
    out[out == None] = 0  # noqa: E711 - elementwise comparison
    return out.astype(np.float64).astype(dtype)


def concat_columns(parts: list[dict]) -> dict:
    """One insert's columns from several :func:`alert_columns` results, in order."""
    return {name: pa.concat_arrays([p[name] for p in parts]) if isinstance(first, pa.Array)
            else np.concatenate([p[name] for p in parts]) for name, first in parts[0].items()}


def alert_columns(batch: NormalizedBatch, registry: AdminRegistry, ingest_ms: int) -> dict:
    """Warehouse ``alerts`` rows of a normalised batch (what the sink writes from envelopes)."""
    a, extras, n = batch.alerts, batch.extras, len(batch.alerts)
    units = registry.unit_columns(a.grid)
    station = units["station_id"].astype(object)
    if "station_id" in extras:  # the CAD system's own assignment wins over the registry's
        given = extras["station_id"]
        station = np.where(given != None, given, station)  # noqa: E711 - elementwise
    report_ref = None
    if "reporter_id" in extras:
        parent = extras["parent_report_id"]
        report_ref = np.where(parent != None, parent, batch.source_id)  # noqa: E711
    rows = {
        "alert_id": _text(a.alert_id, n),
        "source": _coded(a.source, _SOURCE_NAMES),
        "source_id": _text(batch.source_id, n),
        "category": _coded(a.category, _CATEGORY_NAMES),
        **_unit_codes(registry, a.grid),
        "station_id": _text(station, n),
    }
    rows |= {col: _text(extras.get(name), n) for col, name in _EXTRA_TEXT.items()}
    rows["report_ref"] = _text(report_ref, n)
    rows |= {
        "lat": a.lat.astype(np.float64),
        "lon": a.lon.astype(np.float64),
        "severity": envelope_severity(a.severity),
        "priority": _number(extras.get("priority"), n, np.uint8),
        "confidence": _number(extras.get("confidence"), n, np.float32),
        "event_time": a.event_ms.astype("datetime64[ms]"),
        "ingest_time": np.full(n, ingest_ms, np.int64).astype("datetime64[ms]"),
    }
    return rows


def distinct(alert_ids: pa.Array) -> bool:
    """Whether no alert id repeats: then no two ``alerts`` rows share a sorting key.

    Dedupe already drops repeats within its horizon; an id seen again after the horizon may
    still share a block (and an hour) with its first sighting, so this is checked, not assumed.
    """
    return pc.count_distinct(alert_ids).as_py() == len(alert_ids)
