"""A backfill replaces what its range held, so re-running one leaves the rows of a clean run.

Re-running a backfill over the same file after anything that changes its results (a baseline
fitted in between, new thresholds, a corrected file) must not mix two runs: the first run's
flags have other ids and versions, and ``ReplacingMergeTree`` only collapses rows with equal
keys. So before a block of rows goes in, the rows already stored in its span of time are
deleted (ClickHouse's lightweight ``DELETE``: rows are masked at once and dropped at the next
merge):

- alerts by event time, incidents by their first alert's time, flags by their opening time
  (all versions of a flag share it);
- the range opens at the first recorded arrival (``ts``) of the files (the earliest of the
  first chunk read; files are read as one stream, in the order given). Arrival times, not
  event times, open it: an alert stamped days ago (let through where ``max_age_s`` is 0) must
  not make a backfill delete those days. Rows of this run before that floor are stored, and
  delete nothing;
- the span deleted per table grows as one interval, the hull of every block written so far
  (from the floor on), and only its new parts are deleted, so no row of this run is ever
  deleted;
- at the end the interval of each table grows to the run's whole range: from the floor to the
  newest event time or arrival read (plus the flush's horizon when the windows were flushed).
- the rollups (``cell_minute_states``, ``unit_hour_states``) count alert ids per minute and
  hour: when alerts were deleted, the states of the hours touched are rebuilt from the alerts
  table, so the counts hold exactly the alerts stored.

Dead letters are keyed by the file's line (``topic, 0, line, reason, alert id``): the same file
re-run writes the same keys, which collapse. A table whose span held nothing is left alone, so
a backfill into a clean warehouse deletes nothing (a ``DELETE`` is a mutation, not free).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..warehouse import Warehouse
from ..warehouse.migrations import h3_settings

__all__ = ["RangeReplacer", "REPLACED_BY"]

#: table -> the column whose time decides whether a stored row lies in a backfill's range
REPLACED_BY = {"alerts": "event_time", "incidents": "first_time", "flags": "opened_time"}

_HOUR_MS = 3_600_000

#: (rollup table, its time column, the SELECT its view runs, grouped) rebuilt after alerts
#: were deleted; the SELECTs are the materialized views' (0007, 0008)
_ROLLUPS = (
    (
        "cell_minute_states",
        "minute",
        "toStartOfMinute(toDateTime(event_time, 'UTC')) AS minute, geoToH3(lon, lat, 9) AS cell, "
        "source, category, grid_code, uniqExactState(alert_id) AS alerts, "
        "max(severity) AS max_severity",
        "minute, cell, source, category, grid_code",
    ),
    (
        "unit_hour_states",
        "hour",
        "toStartOfHour(toDateTime(event_time, 'UTC')) AS hour, district_code, street_code, "
        "community_code, grid_code, station_id, source, category, "
        "uniqExactState(alert_id) AS alerts, max(severity) AS max_severity, "
        "min(event_time) AS first_time, max(event_time) AS last_time",
        "hour, district_code, street_code, community_code, grid_code, station_id, source, category",
    ),
)


@dataclass
class RangeReplacer:
    """Deletes, table by table, what a warehouse held in the span a backfill writes.

    Call :meth:`before_insert` with a block's times before inserting it, and :meth:`finish`
    with the run's range once every block is in.
    """

    warehouse: Warehouse
    #: per table, the ``[lo, hi]`` epoch-ms interval already cleared
    cleared: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: rows deleted per table (what the backfill's summary reports as replaced)
    deleted: dict[str, int] = field(default_factory=dict)
    #: ``[lo, hi]`` of the alerts deleted, whose hours' rollups :meth:`finish` rebuilds
    _alerts_span: tuple[int, int] | None = None

    def before_insert(self, table: str, times_ms: np.ndarray, floor_ms: int) -> None:
        """Clear the part of ``[min(times_ms), max(times_ms)]`` from ``floor_ms`` on that is
        not cleared yet."""
        if table not in REPLACED_BY:
            return
        times_ms = times_ms[times_ms >= floor_ms]
        if len(times_ms):
            self._extend(table, int(times_ms.min()), int(times_ms.max()))

    def finish(self, tables: tuple[str, ...], lo_ms: int | None, hi_ms: int | None) -> None:
        """Clear ``[lo_ms, hi_ms]`` in ``tables``, then rebuild the rollups of deleted alerts."""
        if lo_ms is not None and hi_ms is not None and lo_ms <= hi_ms:
            for table in tables:
                self._extend(table, lo_ms, hi_ms)
        if self._alerts_span is not None:
            self._rebuild_rollups(*self._alerts_span)

    def _extend(self, table: str, lo: int, hi: int) -> None:
        if table not in self.cleared:
            pieces = [(lo, hi)]
            self.cleared[table] = (lo, hi)
        else:
            old_lo, old_hi = self.cleared[table]
            pieces = [(lo, old_lo - 1)] if lo < old_lo else []
            pieces += [(old_hi + 1, hi)] if hi > old_hi else []
            self.cleared[table] = (min(lo, old_lo), max(hi, old_hi))
        for a, b in pieces:  # at most two per call
            self._delete(table, a, b)

    def _delete(self, table: str, lo: int, hi: int) -> None:
        db, column = self.warehouse.database, REPLACED_BY[table]
        where = (
            f"{column} >= fromUnixTimestamp64Milli({lo}, 'UTC') "
            f"AND {column} <= fromUnixTimestamp64Milli({hi}, 'UTC')"
        )
        (n,) = self.warehouse.query(f"SELECT count() FROM {db}.{table} WHERE {where}")[0]
        if not n:
            return
        self.warehouse.execute(f"DELETE FROM {db}.{table} WHERE {where}")
        self.deleted[table] = self.deleted.get(table, 0) + int(n)
        if table == "alerts":
            span = self._alerts_span or (lo, hi)
            self._alerts_span = (min(span[0], lo), max(span[1], hi))

    def _rebuild_rollups(self, lo: int, hi: int) -> None:
        """The rollup states of the whole hours holding ``[lo, hi]``, anew from ``alerts``.

        Deleting alerts leaves their ids in the states their views wrote. The hours touched
        lose all their states, and get them back from the alerts stored now (this run's and
        any outside the range in the same hours); uniqExact states make a row inserted twice
        count once, so the alerts table's unmerged duplicates change nothing.
        """
        db = self.warehouse.database
        start = lo // _HOUR_MS * _HOUR_MS
        end = (hi // _HOUR_MS + 1) * _HOUR_MS  # exclusive
        settings = h3_settings(self.warehouse)
        for table, column, select, grouped in _ROLLUPS:
            self.warehouse.execute(
                f"DELETE FROM {db}.{table} WHERE {column} >= toDateTime({start // 1000}, 'UTC') "
                f"AND {column} < toDateTime({end // 1000}, 'UTC')"
            )
            self.warehouse.execute(
                f"INSERT INTO {db}.{table} SELECT {select} FROM {db}.alerts "
                f"WHERE event_time >= fromUnixTimestamp64Milli({start}, 'UTC') "
                f"AND event_time < fromUnixTimestamp64Milli({end}, 'UTC') "
                f"GROUP BY {grouped} {settings}"
            )
