"""The warehouse as a read-only command opens it: one that must already exist.

Opening a chDB directory creates it, so a mistyped ``HOTSPOT_DATA_DIR`` used to leave an empty
warehouse behind and end in ClickHouse's "Unknown table expression identifier". A command that
only reads (``export``, ``map``, ``top``, ``deadletter show``, ``dashboards preview``, ``replay
--from-warehouse``) opens it here instead: a missing directory or one without the project's
tables is an error naming the settings that point at it, and nothing is created.

chDB opens a directory in one process at a time, even to read it. Two reading commands started
together (``map`` while ``export`` runs) would collide, so a reader that finds the directory
held by another short ``hotspot`` command waits for it, up to :data:`READER_WAIT_S`, saying so
on stderr. A worker, a demo or a refreshing ``top`` holds it until stopped: then, and after the
wait, the error names the holder and what reads alongside (``top --bootstrap``, a server).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pipeline.exceptions import ConfigurationError, WarehouseInUse
from pipeline.settings import Settings
from pipeline.warehouse import Warehouse, open_warehouse

__all__ = ["READER_WAIT_S", "open_existing_warehouse", "waits_for"]

#: seconds a reading command waits for another short command to release a chDB directory:
#: an export or a map of a day takes a few seconds; longer, the user had better be told
READER_WAIT_S = 10.0
#: hotspot commands that hold a directory until stopped: waiting for them is pointless
_HELD_UNTIL_STOPPED = {"worker", "demo"}


def open_existing_warehouse(settings: Settings) -> Warehouse:
    """The settings' warehouse, which must hold the project's tables (see module docstring)."""
    url = settings.resolved_warehouse_url
    if url.startswith("chdb://"):
        path = Path(url[len("chdb://") :])
        if not path.is_dir():
            raise ConfigurationError(_missing(settings, f"no warehouse at {path}"))
        _wait_for_release(path)
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


def waits_for(command: str) -> bool:
    """Whether a reader should wait for the process running ``command`` (a command line):
    a ``hotspot`` command that ends by itself (not a worker, a demo or a refreshing ``top``)."""
    words = command.split()
    for i, word in enumerate(words[:-1]):
        if (word == "jobs" and i and words[i - 1] == "-m") or Path(word).name == "hotspot":
            name = words[i + 1]
            if name in _HELD_UNTIL_STOPPED:
                return False
            return name != "top" or "--once" in words
    return False


def _wait_for_release(path: Path) -> None:
    """Wait up to :data:`READER_WAIT_S` while a short command holds ``path`` (see module)."""
    from pipeline.warehouse.embedded import directory_holder, in_use_message

    holder = directory_holder(path)
    if holder is None or not waits_for(holder.command):
        return  # free, or held until stopped: opening says why and what to do
    print(
        f"the warehouse {path} is in use by {holder}; waiting up to {READER_WAIT_S:.0f} s for "
        "it to finish (chDB opens a directory in one process at a time)",
        file=sys.stderr,
        flush=True,
    )
    deadline = time.monotonic() + READER_WAIT_S
    while time.monotonic() < deadline:  # a poll every 0.2 s of a lock file
        time.sleep(0.2)
        holder = directory_holder(path)
        if holder is None:
            return
    raise WarehouseInUse(
        f"waited {READER_WAIT_S:.0f} s: " + in_use_message(path, holder),
        pid=holder.pid,
        command=holder.command,
    )
