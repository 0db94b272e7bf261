"""The patrol loop read back from the warehouse: the monthly accountability list of
``hotspot report notices`` and the false alarms per cell of ``hotspot evaluate --false-alarms``.

Both read the views over ``notice_events`` (``schemas/clickhouse/0014_notice_events.sql``): a
notice counts against its station in the month (local time) it was issued; it is *overdue* when
it was escalated, i.e. nobody received it within ``notice_escalation_s`` (30 minutes) of its
issue time, whether or not it was received later. The escalation is the worker's own record
(an event on recorded time), so the list agrees with what the district and the city were told.
"""

from __future__ import annotations

from typing import NamedTuple

from ..ratings import Month
from ..warehouse.base import Warehouse

__all__ = ["FalseAlarmCell", "OverdueUnit", "false_alarm_cells", "overdue_units"]


class OverdueUnit(NamedTuple):
    """A station's notices of a month: issued, overdue (escalated), of those received late, and
    the longest receipt time of the overdue ones (None: one was never received)."""

    station_id: str
    issued: int
    overdue: int
    received_late: int
    never_received: int
    worst_receipt_min: float | None


class FalseAlarmCell(NamedTuple):
    cell_id: int
    grid_code: str
    station_id: str
    false_alarms: int
    reasons: list[str]


def overdue_units(warehouse: Warehouse, month: Month, utc_offset_min: int) -> list[OverdueUnit]:
    """The stations with at least one notice of ``month`` unacknowledged at the escalation,
    most overdue first."""
    start, end = month.start_ms(utc_offset_min), month.shift(1).start_ms(utc_offset_min)
    db = warehouse.database
    rows = warehouse.query(
        "SELECT station_id, count() AS issued, countIf(escalated) AS overdue, "
        "countIf(escalated AND received_late) AS late, "
        "countIf(escalated AND receipt_seconds IS NULL) AS never, "
        "if(never > 0, NULL, maxIf(receipt_seconds, escalated) / 60) AS worst "
        f"FROM {db}.notices "
        f"WHERE issued_time >= fromUnixTimestamp64Milli({start}) "
        f"AND issued_time < fromUnixTimestamp64Milli({end}) "
        "GROUP BY station_id HAVING overdue > 0 ORDER BY overdue DESC, station_id"
    )
    return [
        OverdueUnit(s, int(i), int(o), int(late), int(n), None if w is None else float(w))
        for s, i, o, late, n, w in rows
    ]


def false_alarm_cells(warehouse: Warehouse, limit: int = 10) -> tuple[int, list[FalseAlarmCell]]:
    """How many false alarms stations recorded, and the cells with most of them."""
    db = warehouse.database
    ((total,),) = warehouse.query(f"SELECT sum(false_alarms) FROM {db}.false_alarms_by_cell")
    rows = warehouse.query(
        "SELECT cell_id, grid_code, station_id, false_alarms, arraySort(reasons) "
        f"FROM {db}.false_alarms_by_cell ORDER BY false_alarms DESC, cell_id LIMIT {int(limit)}"
    )
    return int(total or 0), [
        FalseAlarmCell(int(c), g, s, int(n), list(r)) for c, g, s, n, r in rows
    ]
