"""Where a backfill's results go: a warehouse, or memory for a caller that wants no warehouse.

The engine hands a sink each chunk's normalised alerts and the records made of them (dead
letters, incidents, flags) as the live sinks would receive them from Kafka; the sink decides
what to keep. :class:`WarehouseSink` builds the live sinks' rows and inserts them in large
blocks; :class:`MemorySink` keeps the messages (and, when asked, the alerts) as they are, for
``hotspot evaluate``, the demo's baseline fit and tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..alerts import AlertBatch
from ..deadletter import DeadLetter
from ..envelope import as_enveloped, envelope_table
from ..geo.admin_units import AdminRegistry
from ..normalize import NormalizedBatch
from ..outputs import FlagMessage, IncidentMessage
from ..warehouse import Warehouse
from ..warehouse.alert_columns import alert_columns, concat_columns, distinct
from ..warehouse.rows import deadletter_rows, flag_rows, incident_rows
from .replace import REPLACED_BY, RangeReplacer

__all__ = ["INSERT_ROWS", "MemorySink", "RECORD_TABLES", "Sink", "WarehouseSink"]

#: rows (alerts, dead letters, incidents, flags) held back before they are inserted (about
#: 165 bytes an alert as Arrow columns, so 80 MB); ClickHouse splits blocks above about a
#: million rows anyway
INSERT_ROWS = 500_000
#: tables of records held back with the alerts, and how each builds its rows
_RECORD_ROWS = {"deadletters": deadletter_rows, "incidents": incident_rows, "flags": flag_rows}
#: the tables :meth:`Sink.records` takes records for
RECORD_TABLES = tuple(_RECORD_ROWS)


class Sink(Protocol):
    """What a :class:`~.engine.Backfill` writes to."""

    def alerts(self, feeds: list[NormalizedBatch]) -> None:
        """A chunk's stored alerts, one normalised batch per feed."""

    def records(self, table: str, records: list) -> None:
        """Records for ``table`` (one of :data:`RECORD_TABLES`): dead letters, incident or
        flag messages."""

    def chunk_done(self) -> None:
        """A chunk is processed: a moment to write what is held."""

    def write_held(self) -> None:
        """Write what is held now (the flags may wait for :meth:`finish`): the backfill's
        correlator processes are flushing meanwhile, so the writes overlap their work."""

    def range_starts(self, floor_ms: int) -> None:
        """The backfill's range opens at ``floor_ms`` (its first recorded arrival); called
        once, before the first :meth:`chunk_done`."""

    def finish(self, last_ms: int | None = None, tables: tuple[str, ...] = ()) -> dict[str, int]:
        """The backfill ends: write everything held. A sink that replaces what the range
        held clears ``tables`` up to ``last_ms`` (see :mod:`.replace`); returns the rows it
        deleted per table."""


class WarehouseSink:
    """Rows as the live sinks build them, inserted ``insert_rows`` at a time.

    Rows are held back across chunks: chDB's cost per insert block is large (a part per table
    and rollup view, and more parts to merge later, on the same core; tens of ms for the flags
    table), so a few large blocks cost far less than one per chunk and partition. Flags keep
    every version and incidents their own ids, so the order of the blocks changes no row.
    Until :meth:`finish`, a chunk's rows may not be in the warehouse yet.

    Before a block goes in, what the warehouse held in its span is deleted, and at the end
    what it held in the whole range (:class:`~.replace.RangeReplacer`): a re-run leaves the
    rows of a clean run.
    """

    def __init__(
        self, warehouse: Warehouse, registry: AdminRegistry, insert_rows: int = INSERT_ROWS
    ) -> None:
        self.warehouse = warehouse
        self.registry = registry
        self.insert_rows = insert_rows
        self._alerts: list[dict] = []  # alert columns not yet inserted
        self._alert_rows = 0
        # dead letters, incidents and flags not yet inserted, by table
        self._held: dict[str, list] = {table: [] for table in _RECORD_ROWS}
        self.replacer = RangeReplacer(warehouse)
        self._floor_ms: int | None = None

    def alerts(self, feeds: list[NormalizedBatch]) -> None:
        ingest_ms = int(time.time() * 1000)
        stored = [alert_columns(envelope_table(feed, self.registry), ingest_ms) for feed in feeds]
        self._alerts += stored
        self._alert_rows += sum(len(columns["lat"]) for columns in stored)

    def records(self, table: str, records: list) -> None:
        self._held[table] += records

    def chunk_done(self) -> None:
        if self._alert_rows + sum(map(len, self._held.values())) >= self.insert_rows:
            self._insert_held()

    def write_held(self) -> None:
        # Flags wait for the flush: its versions supersede many held ones, and versions of a
        # flag in one block collapse as it is inserted (ReplacingMergeTree), so splitting them
        # would store rows that only a merge removes (the same rows read with FINAL).
        self._insert_held(("deadletters", "incidents"))

    def range_starts(self, floor_ms: int) -> None:
        self._floor_ms = floor_ms

    def finish(self, last_ms: int | None = None, tables: tuple[str, ...] = ()) -> dict[str, int]:
        """Insert the rows held back, then clear what ``tables`` held in the range up to
        ``last_ms`` and was not cleared yet; returns the rows deleted per table."""
        self._insert_held()
        self.replacer.finish(tables, self._floor_ms, last_ms)
        return dict(self.replacer.deleted)

    def _insert_held(self, tables: tuple[str, ...] = RECORD_TABLES) -> None:
        """Insert the alerts and the rows of ``tables`` held back, one block per table."""
        if self._alerts:
            columns = concat_columns(self._alerts)
            self._alerts, self._alert_rows = [], 0
            self._insert("alerts", columns, distinct_keys=distinct(columns["alert_id"]))
        for table, build_rows in _RECORD_ROWS.items():
            if self._held[table] and table in tables:
                records, self._held[table] = self._held[table], []
                self._insert(table, build_rows(records))

    def _insert(self, table: str, columns: dict, *, distinct_keys: bool = False) -> None:
        if table in REPLACED_BY and self._floor_ms is not None:
            times = np.asarray(columns[REPLACED_BY[table]]).astype("datetime64[ms]")
            self.replacer.before_insert(table, times.astype(np.int64), self._floor_ms)
        self.warehouse.insert(table, columns, distinct_keys=distinct_keys)


@dataclass
class MemorySink:
    """Keeps dead letters, incidents and flags as messages, and the normalised alerts when
    ``keep_alerts`` (a history to fit a baseline on)."""

    keep_alerts: bool = False
    normalized: list[NormalizedBatch] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    incidents: list[IncidentMessage] = field(default_factory=list)
    flags: list[FlagMessage] = field(default_factory=list)

    def alerts(self, feeds: list[NormalizedBatch]) -> None:
        if self.keep_alerts:
            self.normalized += feeds

    def records(self, table: str, records: list) -> None:
        getattr(self, table).extend(records)

    def chunk_done(self) -> None:
        pass

    def write_held(self) -> None:
        pass

    def range_starts(self, floor_ms: int) -> None:
        pass

    def finish(self, last_ms: int | None = None, tables: tuple[str, ...] = ()) -> dict[str, int]:
        return {}

    def stored_alerts(self) -> AlertBatch:
        """The kept alerts as the warehouse stores them (as correlators read them), one batch."""
        if not self.keep_alerts:
            raise ValueError("this sink keeps no alerts: make it with MemorySink(keep_alerts=True)")
        return AlertBatch.concat([as_enveloped(b.alerts) for b in self.normalized])
