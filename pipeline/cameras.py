"""The camera inventory: which cameras the city has, where, and since when.

The camera feed only speaks when a camera detects something or goes dark (``offline``) and
comes back (``online``), so the alerts cannot say which cameras exist: a camera dark for weeks,
or one that saw nothing, is absent from them. The online rate (``camera_health`` dashboard)
therefore counts the cameras of this inventory, read from the city's cameras file (the video
platform's export) rather than from a registry layer: cameras are points that come and go
every week and belong to another department, while the admin registry is a four-level
hierarchy of areas that changes rarely and is validated as one.

The file is CSV with a header: ``camera_id,lat,lon`` (WGS84), and optionally ``installed_at``
and ``retired_at`` (ISO 8601 dates or times in UTC, no offset; empty: in service since before
any range / still in service). Each camera is placed in the registry's units by its
coordinates. Loading the same file again changes nothing; a camera left out of a later file
keeps its last row (give it a ``retired_at`` to take it out of the rate from that day).

>>> rows = parse_cameras(b"camera_id,lat,lon,installed_at\\nc1,30.2,120.1,2026-11-01\\n")
>>> rows["camera_id"].tolist(), rows["installed_at"].tolist()
(['c1'], [1793491200000])
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .exceptions import CameraInventoryError
from .geo.admin_units import AdminRegistry
from .warehouse.base import Warehouse

__all__ = ["parse_cameras", "locate_cameras", "store_cameras", "load_cameras"]

_REQUIRED = ("camera_id", "lat", "lon")
_TIMES = ("installed_at", "retired_at")
#: rows listed in one error message at most (the count says how many more)
_SHOWN = 20


def parse_cameras(data: bytes, name: str = "cameras file") -> dict[str, np.ndarray]:
    """The file's columns: ``camera_id`` (object), ``lat``/``lon`` (float64), ``installed_at``
    (epoch ms, 0 when not given) and ``retired_at`` (epoch ms, -1 when not given)."""
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            convert_options=pacsv.ConvertOptions(
                column_types={"camera_id": pa.string(), "lat": pa.float64(), "lon": pa.float64()}
                | {t: pa.string() for t in _TIMES},
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CameraInventoryError(
            f"{name} is not a CSV of camera_id,lat,lon[,installed_at,retired_at]: {exc}"
        ) from None
    missing = [c for c in _REQUIRED if c not in table.column_names]
    if missing:
        raise CameraInventoryError(
            f"{name} lacks the column(s) {', '.join(missing)}; its header must start "
            "camera_id,lat,lon"
        )
    ids = np.array(table["camera_id"].to_pylist(), dtype=object)
    lat = table["lat"].to_numpy(zero_copy_only=False).astype(np.float64)
    lon = table["lon"].to_numpy(zero_copy_only=False).astype(np.float64)
    problems = []
    blank = np.array([not (i or "").strip() for i in ids])
    problems += [f"line {k + 2}: no camera_id" for k in np.flatnonzero(blank)]
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    problems += [f"line {k + 2}: lat/lon missing or out of range" for k in np.flatnonzero(bad)]
    _, first, counts = np.unique(ids[~blank].astype(str), return_index=True, return_counts=True)
    kept = np.flatnonzero(~blank)
    problems += [f"line {kept[k] + 2}: camera_id repeated" for k in first[counts > 1]]
    times = {}
    for column in _TIMES:  # two columns, each parsed whole
        times[column], wrong = _epoch_ms(table, column, default=0 if column == _TIMES[0] else -1)
        problems += [f"line {k + 2}: {column} is not an ISO 8601 date or time" for k in wrong]
    if problems:
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise CameraInventoryError(
            f"{name}: {len(problems)} problem(s){more}; fix them and load it again:\n  "
            + "\n  ".join(problems[:_SHOWN])
        )
    return {"camera_id": ids, "lat": lat, "lon": lon, **times}


def _epoch_ms(table: pa.Table, column: str, default: int) -> tuple[np.ndarray, np.ndarray]:
    """Epoch ms of an optional text column, ``default`` where empty; and the bad rows."""
    n = table.num_rows
    if column not in table.column_names:
        return np.full(n, default, np.int64), np.array([], np.int64)
    text = table[column]
    given = pc.fill_null(pc.invert(pc.equal(pc.utf8_trim_whitespace(text), "")), False)
    parsed = np.full(n, default, np.int64)
    rows = np.flatnonzero(given.to_numpy(zero_copy_only=False))
    values = np.char.rstrip(
        np.char.strip(np.array(text.to_pylist(), dtype=object)[rows].astype(str)), "Z"
    )
    try:
        stamps = np.array(values, dtype="datetime64[ms]").astype(np.int64)
    except ValueError:  # name the rows that do not parse: one at a time, only on this path
        wrong = [r for r, v in zip(rows, values, strict=True) if not _parses(v)]
        return parsed, np.array(wrong, np.int64)
    parsed[rows] = stamps
    return parsed, np.array([], np.int64)


def _parses(value: str) -> bool:
    try:
        np.datetime64(value, "ms")
    except ValueError:
        return False
    return True


def locate_cameras(rows: dict[str, np.ndarray], registry: AdminRegistry) -> dict[str, np.ndarray]:
    """``rows`` with the grid, community, street, district and station of each camera; a
    camera outside every grid cell of the registry is an error (it would count for no
    district)."""
    grid = registry.locate(rows["lat"], rows["lon"])
    outside = np.flatnonzero(grid < 0)
    if len(outside):
        shown = ", ".join(str(rows["camera_id"][k]) for k in outside[:_SHOWN])
        raise CameraInventoryError(
            f"{len(outside)} camera(s) lie outside every grid cell of the registry ({shown}): "
            "check their lat/lon (WGS84, lat first) or extend the registry"
        )
    return {**rows, **registry.unit_columns(grid)}


def store_cameras(columns: dict[str, np.ndarray], warehouse: Warehouse) -> int:
    """Insert the located cameras (idempotent: one row per camera, the latest load wins)."""
    n = len(columns["camera_id"])
    retired = columns["retired_at"]
    rows = {
        "camera_id": columns["camera_id"],
        "lat": columns["lat"],
        "lon": columns["lon"],
        **{k: columns[k] for k in ("grid_code", "community_code", "street_code")},
        "district_code": columns["district_code"],
        "station_id": columns["station_id"],
        "installed_at": columns["installed_at"].astype("datetime64[ms]"),
        "retired_at": pa.array(retired, pa.timestamp("ms", tz="UTC"), mask=retired < 0),
        "loaded_at": np.full(n, np.datetime64(time.time_ns() // 1_000_000, "ms")),
    }
    warehouse.insert("cameras", rows)
    return n


def load_cameras(path: Path, registry: AdminRegistry, warehouse: Warehouse) -> int:
    """Read, place and store the cameras file at ``path``; returns how many cameras."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CameraInventoryError(f"cannot read the cameras file {path}: {exc}") from None
    return store_cameras(locate_cameras(parse_cameras(data, str(path)), registry), warehouse)
