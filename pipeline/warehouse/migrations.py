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

A warehouse that is up to date gets no DDL at all (the record table is created only when it is
missing), so a worker that connects as the writer of ``schemas/clickhouse/access/`` (insert and
select, no DDL) starts once ``hotspot migrate`` has run with the admin connection; one that
finds a pending file without the rights to apply it is told to run that command.
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
    found = warehouse.query(
        f"SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'schema_migrations'"
    )
    if not found[0][0]:
        _ddl(
            warehouse,
            f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
            "(name String, checksum String, applied_at DateTime DEFAULT now()) "
            "ENGINE = MergeTree ORDER BY name",
            "schema_migrations",
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
            _ddl(warehouse, statement.rstrip(";"), path.name)
        warehouse.insert("schema_migrations", {"name": [path.name], "checksum": [checksum]})
        applied.append(path.name)
    if retention is not None:
        try:
            changes = apply_retention(warehouse, retention)
        except WarehouseError as exc:
            if _is_denied(exc):
                raise _denied(exc, "the retention settings' TTLs") from exc
            raise
        applied += [f"retention {change}" for change in changes]
    return applied


#: ClickHouse's ACCESS_DENIED: the connection's user lacks a grant
_ACCESS_DENIED = 497


def _ddl(warehouse: Warehouse, statement: str, what: str) -> None:
    try:
        warehouse.execute(statement)
    except WarehouseError as exc:
        if _is_denied(exc):
            raise _denied(exc, what) from exc
        raise


def _is_denied(exc: WarehouseError) -> bool:
    return exc.code == _ACCESS_DENIED


def _denied(exc: WarehouseError, what: str) -> WarehouseError:
    return WarehouseError(
        f"{what} needs schema rights that this connection's user lacks (a writer): run "
        "`hotspot migrate`, which connects with warehouse_admin_url, before the workers "
        f"({exc})",
        code=exc.code,
    )
