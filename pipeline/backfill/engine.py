"""The live pipeline without Kafka: normalise, route, correlate, sink.

A live worker normalises each feed, publishes envelope records routed by 4 km tile (with halo
copies near tile edges) and runs one correlator per partition of ``alerts.normalized``, publishing
only flags and incidents centred in tiles that partition owns; sinks write alerts, dead letters,
incidents and flags. :class:`Backfill` runs the same functions in the same arrangement:
:func:`~pipeline.normalize.normalize`, :class:`~pipeline.routing.TileRouting`, one
:class:`~pipeline.correlate.Correlator` per partition stepped by the live stage's
:func:`~pipeline.correlation_loop.correlate_partition`, the same message and row builders. Only
the transport differs: records arrive in large chunks in file order, alerts go from stage to
stage as columns in memory instead of Arrow records on a topic (to the correlators' child
processes as pickled columns, :mod:`.partitions`), and results go to a sink (:mod:`.sinks`:
the warehouse, or memory).

The correlator's results do not depend on batch cuts or on arrival order within the allowed
lateness, so a backfill gives the flags, incidents and warehouse rows of a live run over the
same input (an integration test compares them row by row). Dead letters keep their reason,
detail, feed and alert id; their Kafka coordinates become the file's topic, partition 0 (late
ones: the correlator's partition) and the line number as offset.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import pyarrow as pa

from ..alerts import SOURCE_CODE, SOURCES, AlertBatch
from ..correlate import Baseline, Correlator
from ..correlation_loop import FAILED_DETAIL, LATE_DETAIL, partition_rows
from ..deadletter import DeadLetter, Reason, Sealer
from ..envelope import as_enveloped
from ..feeds.decode import Reject
from ..geo.admin_units import AdminRegistry
from ..normalize import NormalizeContext, NormalizedBatch, normalize, normalize_each
from ..replay.chunks import NO_TIMESTAMP, BadLine, RecordChunk
from ..replay.typed import decode_typed, feed_columns
from ..routing import TileRouting
from ..settings import Settings
from .partitions import PartitionPool, Work
from .sinks import Sink

__all__ = ["Backfill", "BackfillReport", "CLOCKS"]

log = logging.getLogger(__name__)

CLOCKS = ("wall", "arrival")
_NORMALIZE_BATCH = 8192
_CLOCK_SLICE_MS = 60_000


@dataclass
class BackfillReport:
    """What a backfill read, stored and rejected."""

    records: int = 0
    alerts: int = 0
    duplicates: int = 0
    incidents: int = 0
    flag_events: int = 0
    late: int = 0
    newest_event_ms: int | None = None
    deadletters: Counter = field(default_factory=Counter)  # reason -> count
    by_feed: Counter = field(default_factory=Counter)  # feed -> records
    skipped_topics: Counter = field(default_factory=Counter)  # topic -> records
    bad_lines: list[BadLine] = field(default_factory=list)
    #: rows of an earlier run in this backfill's range, deleted before it stored its own
    replaced: Counter = field(default_factory=Counter)  # table -> rows
    #: cell tests the scan made (a cell tested at a boundary), each cell counted by the one
    #: partition that owns it, so the figure does not depend on the partition count
    #: (:mod:`pipeline.correlate.scan.tally`); set by :meth:`Backfill.finish`
    cell_tests: int = 0


def _concat(parts: list[NormalizedBatch], sizes: list[int]) -> NormalizedBatch:
    """One batch of consecutive slices' results, indices shifted to the whole input."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64).tolist()
    return NormalizedBatch(
        source=parts[0].source,
        alerts=AlertBatch.concat([p.alerts for p in parts]),
        source_id=np.concatenate([p.source_id for p in parts]),
        index=np.concatenate([p.index + s for p, s in zip(parts, starts, strict=True)]),
        extras={k: np.concatenate([p.extras[k] for p in parts]) for k in parts[0].extras},
        rejects=[
            Reject(r.index + s, r.reason, r.detail)
            for p, s in zip(parts, starts, strict=True)
            for r in p.rejects
        ],
        alert_ids_of_rejects={
            i + s: a
            for p, s in zip(parts, starts, strict=True)
            for i, a in p.alert_ids_of_rejects.items()
        },
        duplicates=sum(p.duplicates for p in parts),
        unknown_enum=sum(p.unknown_enum for p in parts),
    )


def _by_source(parts: list[NormalizedBatch]) -> dict[str, list[NormalizedBatch]]:
    out: dict[str, list[NormalizedBatch]] = {}
    for part in parts:  # loop per normalised slice
        if len(part.alerts):
            out.setdefault(part.source, []).append(part)
    return out


@dataclass
class _Pending:
    """A chunk normalised and handed to the correlators, not yet stored: its alerts per
    feed, its alerts in file order with their lines, the dead letters of normalising, and
    which rows of ``alerts`` each partition took (None: not correlated)."""

    feeds: list[NormalizedBatch]
    alerts: AlertBatch | None
    lines: np.ndarray | None
    dead: list[DeadLetter]
    rows: dict[int, np.ndarray] | None


def _joined(parts: list[NormalizedBatch]) -> NormalizedBatch:
    """The alerts of one feed's slices as one batch, for row building (indices not kept)."""
    if len(parts) == 1:
        return parts[0]
    return _concat(parts, [0] * len(parts))


class Backfill:
    """Feed :meth:`run` chunks of records; call :meth:`finish` at the end (see module).

    ``clock``: ``"arrival"`` (default) judges future and stale event times by the newest
    recorded arrival time (``ts``) read so far, as the live worker did when the records
    arrived (the wall clock until a ``ts`` is seen); ``"wall"`` by the wall clock, as a live
    worker reading the same records now would. For history, ``"wall"`` lets an event stamped
    two days ahead through (it is in the past by now), and that one alert would make every
    later alert of its tile late.
    ``baseline`` makes one baseline per partition's correlator. Without ``correlate`` only
    alerts and dead letters are stored (a fast load of history, e.g. to fit a baseline on).
    ``sink`` receives the alerts, dead letters, incidents and flags (:mod:`.sinks`).

    The correlators run in ``settings.backfill_processes`` processes (:mod:`.partitions`; 0:
    one per CPU this process may run on).
    Each chunk is stored after the next one is normalised, so the correlators work on one
    chunk while this process normalises the next and writes the one before; the sink
    receives the same calls in the same order whatever the number of processes. Call
    :meth:`close` (or :meth:`finish`) to stop the correlator processes.
    """

    def __init__(
        self,
        settings: Settings,
        registry: AdminRegistry,
        sink: Sink,
        baseline: Callable[[], Baseline],
        *,
        clock: str = "arrival",
        correlate: bool = True,
    ) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
        self.settings = settings
        self.registry = registry
        self.sink = sink
        self.routing = TileRouting.from_settings(settings, registry)
        self.ctx = NormalizeContext.from_settings(settings, registry)
        self._arrival_ms: int | None = None  # newest arrival read so far
        # the range this backfill replaces in the warehouse (sinks.WarehouseSink, .replace):
        # from the first chunk's earliest arrival to the newest arrival or event time read
        self._floor_ms: int | None = None
        self._last_ms: int | None = None
        self._oldest_event_ms: int | None = None
        self.clock = clock
        self.sealer = Sealer(settings.pseudonym_secret())
        self.correlators = [
            Correlator(settings.correlation, self.routing.projection, baseline())
            for _ in range(settings.partitions if correlate else 0)
        ]
        # made last: with processes, the children fork with the correlators built above, and
        # this process's copies of them are not used again
        processes = settings.backfill_processes or len(os.sched_getaffinity(0))
        self.pool = PartitionPool(self.correlators, self.routing, registry, processes)
        self._pending: _Pending | None = None
        self._feed_of = {f"alerts.{source}": code for source, code in SOURCE_CODE.items()}
        self._feed_of |= {
            topic: SOURCE_CODE[source] for source, topic in settings.topics.feeds().items()
        }
        self.report = BackfillReport()

    # --- one chunk ----------------------------------------------------------------------------

    def run(self, chunks: Iterable[RecordChunk], progress: Callable[[int], None] | None = None):
        """Process every chunk; ``progress`` is called with each chunk's record count."""
        for chunk in chunks:
            self.process(chunk)
            if progress is not None:
                progress(len(chunk))
        return self.report

    def process(self, chunk: RecordChunk) -> None:
        """Normalise one chunk of records (in file order) and hand it to the correlators;
        store the chunk before it (see the class docstring)."""
        pending = self._prepare(chunk)
        self._store_pending()
        self._pending = pending

    def _prepare(self, chunk: RecordChunk) -> _Pending:
        self.report.records += len(chunk)
        feeds = self._feeds(chunk.topic)
        clocks = self._clocks(chunk)
        parts, positions, dead = [], [], []
        for code, source in enumerate(SOURCES):
            index = np.flatnonzero(feeds == code)
            if not len(index):
                continue
            self.report.by_feed[source] += len(index)
            batch = self._normalize(
                source,
                list(map(chunk.values.__getitem__, index.tolist())),
                None if clocks is None else clocks[index],
                None if chunk.typed is None else feed_columns(source, chunk.typed).take(index),
            )
            dead += self._rejects(batch, chunk, index)
            parts.append(batch)
            positions.append(index[batch.index])
        self._skipped(chunk, feeds)
        pending = _Pending(
            [_joined(same) for same in _by_source(parts).values()], None, None, dead, None
        )
        if parts:
            order = np.argsort(np.concatenate(positions), kind="stable")  # back to file order
            alerts = AlertBatch.concat([as_enveloped(b.alerts) for b in parts]).take(order)
            lines = chunk.line[np.concatenate(positions)[order]]
            self.report.alerts += len(alerts)
            self.report.duplicates += sum(b.duplicates for b in parts)
            if len(alerts):
                self.report.newest_event_ms = max(
                    self.report.newest_event_ms or -(2**62), int(alerts.event_ms.max())
                )
                self._oldest_event_ms = min(
                    self._oldest_event_ms or 2**62, int(alerts.event_ms.min())
                )
            if self.correlators:
                pending.alerts, pending.lines = alerts, lines
                pending.rows = self._submit(alerts)
        self._extend_range(chunk)
        return pending

    def _store_pending(self) -> None:
        """Store the chunk handed to the correlators last, with their results."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        self.sink.alerts(pending.feeds)
        dead = pending.dead
        if pending.rows is not None:
            dead += self._collect(pending.alerts, pending.lines, pending.rows)
        self._store_dead(dead)
        self.sink.chunk_done()

    def _extend_range(self, chunk: RecordChunk) -> None:
        """Open the range at the first chunk's earliest arrival (its earliest event time when
        it has no ``ts``), and extend its end to the newest arrival or event time read."""
        ts = chunk.ts[chunk.ts != NO_TIMESTAMP]
        newest = [int(ts.max())] if len(ts) else []
        if self.report.newest_event_ms is not None:
            newest.append(self.report.newest_event_ms)
        if newest:
            self._last_ms = max([*newest, self._last_ms or newest[0]])
        if self._floor_ms is None:
            if len(ts):
                self._floor_ms = int(ts.min())
            elif self.report.newest_event_ms is not None:
                self._floor_ms = self._oldest_event_ms
            if self._floor_ms is not None:
                self.sink.range_starts(self._floor_ms)

    def _feeds(self, topics: np.ndarray) -> np.ndarray:
        """The feed (source code) of each record, -1 for a topic that is no feed's."""
        return np.fromiter(
            map(self._feed_of.get, topics.tolist(), repeat(-1)), np.int8, len(topics)
        )

    def _clocks(self, chunk: RecordChunk) -> np.ndarray | None:
        """Each record's worker clock (epoch ms), or None to read the wall clock.

        The arrival clock of a record is the newest arrival (``ts``) read up to the end of its
        run of records whose newest arrival falls in one minute, so no record is judged by a
        clock more than a minute ahead of its own arrival (as a live worker takes its batches
        within a fraction of a second of their arrival). Before any ``ts``: the wall clock.
        """
        if self.clock != "arrival" or not len(chunk):
            return None
        newest = np.maximum.accumulate(chunk.ts)  # no ts keeps the last
        if self._arrival_ms is not None:
            newest = np.maximum(newest, self._arrival_ms)
        if newest[-1] != NO_TIMESTAMP:
            self._arrival_ms = int(newest[-1])
        step = np.diff(newest // _CLOCK_SLICE_MS) != 0
        last = np.append(np.flatnonzero(step), len(newest) - 1)  # last record of each run
        clocks = newest[last][np.concatenate([[0], np.cumsum(step)])]
        return np.where(clocks == NO_TIMESTAMP, int(time.time() * 1000), clocks)

    def _normalize(
        self,
        source: str,
        values: list,
        clocks: np.ndarray | None,
        typed: pa.RecordBatch | None = None,
    ) -> NormalizedBatch:
        # Slices of at most _NORMALIZE_BATCH values bound the intermediate lists and keep a
        # one-by-one retry after a bug small. Dedupe and per-record clocks give the same result
        # for any cut of one feed's values in order.
        parts = [
            self._normalize_part(
                source,
                values[i : i + _NORMALIZE_BATCH],
                None if clocks is None else clocks[i : i + _NORMALIZE_BATCH],
                None if typed is None else typed.slice(i, _NORMALIZE_BATCH),
            )
            for i in range(0, len(values), _NORMALIZE_BATCH)
        ]
        if len(parts) == 1:
            return parts[0]
        return _concat(
            parts,
            [
                min(len(values) - i, _NORMALIZE_BATCH)
                for i in range(0, len(values), _NORMALIZE_BATCH)
            ],
        )

    def _normalize_part(
        self, source: str, values: list, clocks: np.ndarray | None, typed: pa.RecordBatch | None
    ) -> NormalizedBatch:
        try:
            decoded = (
                None
                if typed is None
                else decode_typed(source, values, typed, self.ctx.decoder(source))
            )
            return normalize(source, values, self.ctx, clocks, decoded)
        except Exception:  # a bug, not bad input: keep going, keep the evidence (as live)
            log.exception(
                "normalising %d %s records failed; retrying one by one", len(values), source
            )
            return normalize_each(source, values, self.ctx, clocks)

    def _skipped(self, chunk: RecordChunk, feeds: np.ndarray) -> None:
        other = np.flatnonzero(feeds < 0)
        for topic, line in zip(
            chunk.topic[other].tolist(), chunk.line[other].tolist(), strict=True
        ):  # loop per record of an unknown topic only
            self.report.skipped_topics[topic] += 1
            self.report.bad_lines.append(BadLine(line, f"topic {topic!r} is not a feed topic"))

    def _rejects(self, batch: NormalizedBatch, chunk: RecordChunk, index: np.ndarray) -> list:
        now_ms = int(time.time() * 1000)
        out = []
        # The key is not sealed: the warehouse keeps no key (0002_deadletters), and the
        # backfill's dead letters go nowhere else.
        for reject in batch.rejects:  # loop per dead letter: bad input is the rare case
            i = int(index[reject.index])
            out.append(
                DeadLetter(
                    reason=Reason(reject.reason),
                    detail=reject.detail,
                    source=batch.source,
                    topic=str(chunk.topic[i]),
                    partition=0,
                    offset=int(chunk.line[i]),
                    received_ms=now_ms,
                    payload_sealed=self.sealer.seal(bytes(chunk.values[i])),
                    alert_id=batch.alert_ids_of_rejects.get(reject.index),
                )
            )
        return out

    # --- correlation --------------------------------------------------------------------------

    def _submit(self, alerts: AlertBatch) -> dict[int, np.ndarray]:
        """Route ``alerts`` and hand each partition its rows (and halo copies); returns the
        rows of ``alerts`` each partition took."""
        routed = self.routing.route(alerts.lat, alerts.lon)
        rows: dict[int, np.ndarray] = {}
        work: list[Work] = []
        for partition, at in partition_rows(routed.partition):  # loop per partition
            rows[partition] = routed.row[at]
            work.append((partition, alerts.take(routed.row[at]), routed.halo[at]))
        self.pool.submit(work)
        return rows

    def _collect(
        self, alerts: AlertBatch, lines: np.ndarray, rows: dict[int, np.ndarray]
    ) -> list[DeadLetter]:
        """Publish the correlators' results for a chunk in partition order; its late and
        failed alerts as dead letters."""
        dead: list[DeadLetter] = []
        for partition, result in self.pool.collect():  # loop per partition
            self._publish(result.incidents, result.flags)
            mine = rows[partition]  # the results' positions are in the partition's rows
            failed, late = mine[result.failed], mine[result.late]
            self.report.late += len(late)
            dead += self._letters(
                partition, alerts, failed, lines, Reason.INTERNAL_ERROR, FAILED_DETAIL
            )
            dead += self._letters(partition, alerts, late, lines, Reason.LATE, LATE_DETAIL)
        return dead

    def _letters(
        self,
        partition: int,
        alerts: AlertBatch,
        rows: np.ndarray,
        lines,
        reason: Reason,
        detail: str,
    ) -> list[DeadLetter]:
        """Dead letters of correlated alerts; no envelope bytes exist, so the sealed payload
        is the alert id."""
        now_ms = int(time.time() * 1000)
        topic = self.settings.topics.normalized
        return [
            DeadLetter(
                reason=reason,
                detail=detail,
                source=SOURCES[int(alerts.source[r])],
                topic=topic,
                partition=partition,
                offset=int(lines[r]),
                received_ms=now_ms,
                payload_sealed=self.sealer.seal(str(alerts.alert_id[r]).encode()),
                alert_id=str(alerts.alert_id[r]),
            )
            for r in rows.tolist()  # loop per late or failed alert: few
        ]

    def _publish(self, incidents: list, flags: list) -> None:
        self.sink.records("incidents", incidents)
        self.sink.records("flags", flags)
        self.report.incidents += len(incidents)
        self.report.flag_events += len(flags)

    def finish(self, *, flush: bool = True) -> BackfillReport:
        """With ``flush``, advance every correlator past the newest event time read plus the
        window, incident gap and lateness, so every flag and incident is final and stored.
        Without, stop where a live worker that has read the same input would stand."""
        try:
            self._store_pending()
            newest = self.report.newest_event_ms
            last = self._last_ms
            if flush and newest is not None and self.correlators:
                p = self.settings.correlation
                horizon = newest + p.window_ms + p.incident_gap_ms + p.lateness_ms + p.slide_ms
                self.pool.start_flush(horizon)
                if self.pool.processes > 1:  # write while the correlator processes flush
                    self.sink.write_held()
                for _, incidents, flags in self.pool.collect():  # in partition order
                    self._publish(incidents, flags)
                last = max(last or horizon, horizon)
            self.report.cell_tests = self.pool.cell_tests() if self.correlators else 0
        finally:
            self.close()
        # a backfill without correlation writes no flags or incidents, and leaves them be
        tables = ("alerts", "incidents", "flags") if self.correlators else ("alerts",)
        self.report.replaced.update(self.sink.finish(last, tables))
        return self.report

    def close(self) -> None:
        """Stop the correlator processes (see :mod:`.partitions`); safe to call twice."""
        self.pool.close()

    # --- sinks --------------------------------------------------------------------------------

    def _store_dead(self, dead: list[DeadLetter]) -> None:
        for letter in dead:
            self.report.deadletters[letter.reason.value] += 1
        self.sink.records("deadletters", dead)
