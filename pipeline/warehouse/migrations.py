"""Apply the DDL in ``schemas/clickhouse/`` in file-name order, once each, with a record.

Each file is one or more statements separated by ``;`` at line end; ``{db}`` is replaced by the
warehouse database. Applied files are recorded in ``schema_migrations`` with their checksum, so
a changed file that was already applied is reported instead of silently ignored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..exceptions import WarehouseError
from .base import Warehouse

__all__ = ["SCHEMA_DIR", "migrate", "split_statements"]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"


def split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


def migrate(warehouse: Warehouse, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    db = warehouse.database
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(name String, checksum String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY name"
    )
    done = dict(warehouse.query(f"SELECT name, checksum FROM {db}.schema_migrations"))
    applied = []
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
        for statement in split_statements(text.replace("{db}", db)):
            warehouse.execute(statement.rstrip(";"))
        warehouse.insert("schema_migrations", {"name": [path.name], "checksum": [checksum]})
        applied.append(path.name)
    return applied
