"""Apply the DDL in ``schemas/clickhouse/`` in file-name order, once each, with a record.

Each file is one or more statements separated by ``;`` at line end. Placeholders:

- ``{db}``: the warehouse database;
- ``{h3_settings}``: a ``SETTINGS`` clause that pins the H3 functions' coordinate order, for the
  end of a SELECT that calls them. ClickHouse 25.5 swapped ``geoToH3`` to ``(lat, lon, res)``
  and 25.1 swapped ``h3ToGeo``'s result to ``(lat, lon)``, each with a setting to choose; older
  servers have neither setting and always use ``(lon, lat)``. So DDL always writes
  ``geoToH3(lon, lat, res)`` and reads ``h3ToGeo`` as ``(lon, lat)``, and the clause pins that
  order where the server has the settings (it is empty where it has not: naming an unknown
  setting is an error there). Same DDL, same cells, on chDB 26.x and servers >= 23.8.

Applied files are recorded in ``schema_migrations`` with their checksum, so
a changed file that was already applied is reported instead of silently ignored. Given the
settings' ``retention``, the tables' TTLs are then brought to it (:mod:`.retention`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..exceptions import WarehouseError
from ..settings import Retention
from .base import Warehouse
from .retention import apply_retention

__all__ = ["SCHEMA_DIR", "migrate", "split_statements", "h3_settings"]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"

#: setting → value that makes the H3 functions use (lon, lat), the order of servers before 25.1
_H3_LON_LAT = {"geotoh3_argument_order": "'lon_lat'", "h3togeo_lon_lat_result_order": "1"}


def h3_settings(warehouse: Warehouse) -> str:
    """``SETTINGS …`` pinning (lon, lat) order for the H3 functions this server can configure."""
    names = ", ".join(f"'{name}'" for name in _H3_LON_LAT)
    rows = warehouse.query(f"SELECT name FROM system.settings WHERE name IN ({names})")
    known = {row[0] for row in rows}
    pinned = [f"{name} = {value}" for name, value in _H3_LON_LAT.items() if name in known]
    return f"SETTINGS {', '.join(pinned)}" if pinned else ""


def split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


def migrate(
    warehouse: Warehouse, schema_dir: Path = SCHEMA_DIR, *, retention: Retention | None = None
) -> list[str]:
    """Apply pending migrations, then ``retention`` (None: leave the TTLs as they are); returns
    the names applied now and, for each TTL changed, ``retention table: old -> new``."""
    db = warehouse.database
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(name String, checksum String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY name"
    )
    done = dict(warehouse.query(f"SELECT name, checksum FROM {db}.schema_migrations"))
    applied = []
    placeholders = {"{db}": db, "{h3_settings}": h3_settings(warehouse)}
    for path in sorted(schema_dir.glob("*.sql")):
        text = path.read_text()
        checksum = hashlib.sha256(text.encode()).hexdigest()
        if path.name in done:
            if done[path.name] != checksum:
                raise WarehouseError(
                    f"migration {path.name} changed after it was applied; add a new migration "
                    "file instead of editing an applied one"
                )
            continue
        for name, value in placeholders.items():
            text = text.replace(name, value)
        for statement in split_statements(text):
            warehouse.execute(statement.rstrip(";"))
        warehouse.insert("schema_migrations", {"name": [path.name], "checksum": [checksum]})
        applied.append(path.name)
    if retention is not None:
        applied += [f"retention {change}" for change in apply_retention(warehouse, retention)]
    return applied
