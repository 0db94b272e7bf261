"""The warehouse as a read-only command opens it: one that must already exist.

Opening a chDB directory creates it, so a mistyped ``HOTSPOT_DATA_DIR`` used to leave an empty
warehouse behind and end in ClickHouse's "Unknown table expression identifier". A command that
only reads (``export``, ``map``, ``top``, ``deadletter show``, ``dashboards preview``, ``replay
--from-warehouse``) opens it here instead: a missing directory or one without the project's
tables is an error naming the settings that point at it, and nothing is created.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.exceptions import ConfigurationError
from pipeline.settings import Settings
from pipeline.warehouse import Warehouse, open_warehouse

__all__ = ["open_existing_warehouse"]


def open_existing_warehouse(settings: Settings) -> Warehouse:
    """The settings' warehouse, which must hold the project's tables (see module docstring)."""
    url = settings.resolved_warehouse_url
    if url.startswith("chdb://"):
        path = Path(url[len("chdb://") :])
        if not path.is_dir():
            raise ConfigurationError(_missing(settings, f"no warehouse at {path}"))
    warehouse = open_warehouse(url)
    try:
        (tables,) = warehouse.query(
            f"SELECT count() FROM system.tables WHERE database = '{warehouse.database}' "
            "AND name = 'schema_migrations'"
        )[0]
    except BaseException:
        warehouse.close()
        raise
    if not tables:
        warehouse.close()
        raise ConfigurationError(
            _missing(
                settings, f"the warehouse {settings.warehouse_display} holds no hotspot tables"
            )
        )
    return warehouse


def _missing(settings: Settings, what: str) -> str:
    if settings.warehouse_url.get_secret_value():
        where = f"HOTSPOT_WAREHOUSE_URL is {settings.warehouse_display}"
    else:
        where = f"HOTSPOT_DATA_DIR is {settings.data_dir} (the warehouse is its warehouse/ folder)"
    return (
        f"{what}: {where}. Point it at the folder a backfill, worker or demo wrote, or fill "
        "this one first (`hotspot backfill FILE`)"
    )
