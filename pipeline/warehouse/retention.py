"""Retention as a setting: each table's TTL follows ``Settings.retention``.

The DDL in ``schemas/clickhouse/`` creates the tables with the default retention. A city that
keeps alerts longer (or drops dead letters sooner) changes a setting, and the next migration
(:func:`~.migrations.migrate` with ``retention``) alters the TTLs that differ: ``MODIFY TTL``
with the new number of days, or ``REMOVE TTL`` for 0 (kept for ever). ClickHouse then drops
expired rows in its merges.

Each table's TTL counts from a time of the row (:data:`KEPT`): alerts and rollups from event
time, incidents and flag versions from the event time they describe, dead letters from when
they were received. A backfill of records older than a table's retention therefore loses them
to the TTL unless the setting covers their age.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import WarehouseError
from ..settings import Retention
from .base import Warehouse

__all__ = ["KEPT", "Kept", "apply_retention", "current_days"]


@dataclass(frozen=True, slots=True)
class Kept:
    """One table's retention: the setting (a field of :class:`Retention`) and the time its TTL
    counts from (a ClickHouse ``DateTime`` expression)."""

    table: str
    setting: str
    since: str

    @property
    def variable(self) -> str:
        """The environment variable that sets it."""
        return f"HOTSPOT_RETENTION__{self.setting.upper()}"


KEPT = (
    Kept("alerts", "alerts", "toDateTime(event_time)"),
    Kept("cell_minute_states", "rollups", "minute"),
    Kept("unit_hour_states", "rollups", "hour"),
    Kept("deadletters", "deadletters", "toDateTime(received_time)"),
    Kept("incidents", "incidents", "toDateTime(last_time)"),
    Kept("flags", "flags", "toDateTime(boundary_time)"),
    Kept("notice_events", "notices", "toDateTime(at_time)"),
)

#: How ClickHouse writes a TTL of whole days back in ``system.tables.engine_full``.
_TTL_DAYS = re.compile(r"\bTTL\b.*?toIntervalDay\((\d+)\)")


def current_days(warehouse: Warehouse, table: str) -> int:
    """The table's TTL in days as the warehouse has it (0: none)."""
    rows = warehouse.query(
        "SELECT engine_full FROM system.tables "
        f"WHERE database = '{warehouse.database}' AND name = '{table}'"
    )
    if not rows:
        raise WarehouseError(f"no table {warehouse.database}.{table}; run the migrations first")
    found = _TTL_DAYS.search(rows[0][0])
    return int(found.group(1)) if found else 0


def apply_retention(warehouse: Warehouse, retention: Retention) -> list[str]:
    """Alter every table whose TTL differs from ``retention``; returns ``"table: old -> new"``
    for each one changed (``"400 days"``, ``"for ever"``)."""
    changed = []
    for kept in KEPT:
        days, was = getattr(retention, kept.setting), current_days(warehouse, kept.table)
        if days == was:
            continue
        table = f"{warehouse.database}.{kept.table}"
        if days:
            warehouse.execute(f"ALTER TABLE {table} MODIFY TTL {kept.since} + INTERVAL {days} DAY")
        else:
            warehouse.execute(f"ALTER TABLE {table} REMOVE TTL")
        changed.append(f"{kept.table}: {_kept(was)} -> {_kept(days)}")
    return changed


def _kept(days: int) -> str:
    return f"{days} days" if days else "for ever"
