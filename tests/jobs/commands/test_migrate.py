"""``hotspot migrate``: the one-shot step a deployment runs before its workers
(infra/compose.yaml's ``migrate`` service), on the embedded warehouse (chDB). The
clickhouse-server installed here (Debian's 18.16) is too old for the schema (its parser refuses the
tables' TTL clauses), so the server path is left to a deployment's own run."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline.warehouse import open_warehouse
from pipeline.warehouse.migrations import SCHEMA_DIR


def hotspot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HOTSPOT_")}
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrate_applies_every_file_once_then_says_the_warehouse_is_up_to_date(tmp_path):
    url = f"chdb://{tmp_path / 'warehouse'}"
    env = {"HOTSPOT_WAREHOUSE_URL": url, "HOTSPOT_DATA_DIR": str(tmp_path)}
    files = sorted(p.name for p in SCHEMA_DIR.glob("*.sql"))

    first = hotspot("migrate", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"applied {len(files)} migration(s)" in first.stdout
    second = hotspot("migrate", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "up to date" in second.stdout

    with open_warehouse(url) as warehouse:
        rows = warehouse.query("SELECT name FROM hotspot.schema_migrations ORDER BY name")
    assert [r[0] for r in rows] == files
