"""The correlation engine: batches of alerts in; late alerts, incidents and flag events out.

Transport-agnostic: the worker's correlate stage and the backfill job both call
:meth:`Correlator.process` with :class:`~pipeline.alerts.AlertBatch` es, and get the same output
for the same alerts however the stream is cut into batches (see :mod:`pipeline.correlate.window`).
All results are computed at slide boundaries from canonically ordered rows (event time, then
alert key), so neither batch cuts nor arrival order within the allowed lateness change a single
bit.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from pipeline.alerts import CATEGORIES, SOURCES, AlertBatch
from pipeline.geo.projection import LocalProjection
from pipeline.marks import NO_PROGRESS, Origins

from .baseline.model import Baseline
from .baseline.rate_cache import DiskRateCache
from .exceptions import InvalidBatchError, SnapshotError
from .flags.details import RowIndex
from .flags.tracker import FlagEvent, FlagTracker
from .incidents.forest import close_boundary, earliest_last
from .incidents.incident import Incident, build_incidents
from .lattice import Lattice
from .params import EARLIER_DEFAULTS, RESTORE_ADOPTS, CorrelationParams
from .scan.cells_tested import cells_tested
from .scan.new_tests import entered_cells
from .scan.scale_counts import Rows, ScaleCounts
from .scan.scoring import CellScores, score_scale_counts
from .scan.tally import CellTestTally
from .scan.test_rate import city_params
from .window.buffer import COLUMNS, AlertBuffer, alert_keys, utf8_ids
from .window.event_time import EventWindow
from .window.events import cell_counts, window_events
from .window.late_keys import LateKeys
from .window.quiet import CROWDED, crowding
from .window.settled_rows import PART_COLUMNS, SettledRows, join_rows
from .window.unjudged_keys import UnjudgedKeys

__all__ = ["Correlator", "CorrelationOutput"]

log = logging.getLogger(__name__)

# 2: buffer rows canonical, ids as UTF-8 bytes, no lat/lon columns; 3: progress per origin;
# 4: settled rows in parts, ``pending`` as bits (3 still restores)
_SNAPSHOT_FORMAT = 4
_ABSENT = object()  # a snapshot's setting that no longer exists
_HOUR_MS = 3_600_000
# The buffer columns each step reads (copying every column at every slide cost more than the
# steps themselves on large windows).
_SCORING_COLUMNS = ("source", "event_ms", "x", "y", "category", "severity", "grid")
_INCIDENT_COLUMNS = ("alert_id", *_SCORING_COLUMNS)
# The window's events as flags describe them.
_FLAG_COLUMNS = ("x", "y", "event_ms", "source", "category", "grid")


@dataclass(frozen=True, slots=True)
class _Complete:
    """The rows of the components complete at boundary ``boundary_ms`` (ascending) and each
    one's root row, consumed there and built into incidents at the end of the call."""

    members: np.ndarray
    heads: np.ndarray
    boundary_ms: int


@dataclass(frozen=True, slots=True)
class CorrelationOutput:
    """What one call produced. ``late`` rows go to the dead-letter topic with reason ``late``;
    ``late_at``: their positions in the batch passed in (two copies of one alert share its id
    and event time, and only one of them may be late); ``duplicates`` counts redelivered
    alerts that were ignored."""

    late: AlertBatch
    incidents: list[Incident]
    flags: list[FlagEvent]
    duplicates: int = 0
    late_at: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def _validate(batch: AlertBatch, came_from: Origins | None, origins: int) -> None:
    checks = [
        (batch.event_ms.dtype == np.int64, "event_ms must be int64 epoch milliseconds"),
        (
            np.isfinite(batch.lat).all() and np.isfinite(batch.lon).all(),
            "lat/lon hold NaN or inf; dead-letter those alerts before correlating",
        ),
        (
            np.isfinite(batch.severity).all()
            and ((batch.severity >= 0) & (batch.severity <= 1)).all(),
            "severity must lie in [0, 1]",
        ),
        (
            ((batch.source >= 0) & (batch.source < len(SOURCES))).all(),
            "source codes must index pipeline.alerts.SOURCES",
        ),
        (
            ((batch.category >= 0) & (batch.category < len(CATEGORIES))).all(),
            "category codes must index pipeline.alerts.CATEGORIES",
        ),
    ]
    if came_from is not None:
        origin = came_from.origin
        checks += [
            (
                len(origin) == len(came_from.progress_ms) == len(batch),
                "origins must have one id and progress per alert",
            ),
            (
                not len(origin) or (origin.min() >= 0 and origin.max() < origins),
                f"origin ids must lie in 0..{origins - 1} (pipeline.marks.origin_count)",
            ),
        ]
    for ok, message in checks:
        if not ok:
            raise InvalidBatchError(f"invalid AlertBatch: {message}")


class Correlator:
    """Event-time correlation of one tile's alerts.

    ``baseline`` is owned by the correlator from here on: it learns from the stream (if set to)
    and its learned state is part of :meth:`snapshot`. ``origins``: how many upstream origins
    (feed partitions, :mod:`pipeline.marks`) send alerts; boundaries close on the least
    progress among all of them (:mod:`pipeline.correlate.window.event_time`). The backfill
    has one.

    Calm boundaries cost little or nothing: where no flag is open and no cell can count more
    than ``min_count`` alerts, no flag can open (:meth:`_crowding`), so scoring is left out and
    only the cells it would test are tallied; under the recurrence bar the same holds where no
    cell an event entered in the last slide can (:meth:`_can_open`). The boundaries after one
    up to the next at which anything can change (an alert enters, an incident may complete,
    the window gets busy again) are not visited at all, and under the recurrence bar neither
    are those at which only incidents complete: the skip runs their incident steps alone
    (:meth:`_complete_ahead`). Outputs are the same bits as
    visiting every boundary in full, which ``skip_quiet=False`` does (the tests compare the
    two).
    """

    def __init__(
        self,
        params: CorrelationParams,
        projection: LocalProjection,
        baseline: Baseline,
        origins: int = 1,
        *,
        skip_quiet: bool = True,
    ) -> None:
        self.params = params
        self.projection = projection
        self.baseline = baseline
        self.lattice = Lattice(params.cell_m)
        self._buffer = AlertBuffer()
        self._window = EventWindow(params.window_ms, params.slide_ms, params.lateness_ms, origins)
        self._late = LateKeys()  # alerts dead-lettered as late: a copy is a duplicate
        self._unjudged = UnjudgedKeys()  # alerts that carried no progress: likewise
        # The parts the last checkpoint wrote the settled rows in; not part of a snapshot.
        self._settled = SettledRows(params.slide_ms)
        # The opening thresholds of this city's number of tests (scan.test_rate): a function
        # of the baseline, so every partition and restart gets the same ones.
        self._flags = FlagTracker(city_params(params, baseline), self.lattice, projection)
        self._rates = DiskRateCache(baseline, self.lattice, params.radii_m)
        self._scale_counts = ScaleCounts(params, self.lattice)
        #: cell tests made (boundaries each cell was tested at), for the false-flag rate a
        #: threshold claims; not part of a snapshot (scan.tally)
        self.tested = CellTestTally()
        self._last_closed: int | None = None
        # The last boundary whose incidents were linked and emitted: rows up to it are linked
        # (or consumed). Not part of a snapshot: a restored buffer has no roots, so it relinks.
        self._linked_through: int | None = None
        # Derived state, not part of a snapshot either: burst statuses are decided up to this
        # boundary (None: search the whole window), and the window's events as the last
        # boundary's flags laid them out, kept from the boundary ``_nearby_ms`` on.
        self._decided_ms: int | None = None
        self._nearby: RowIndex | None = None
        self._nearby_ms = 0
        self._rebuild_ms = max(1, params.window_ms // params.slide_ms // 3) * params.slide_ms
        self._skip_quiet = skip_quiet
        self._opens_for: object = None  # the tracker params _opens_at_new_tests_only read
        self._opens_new_only = False
        # The earliest last row's time of a pending component, as the incident step of
        # boundary ``[0]`` found it (what the skip after it reads; no row changes between).
        self._last_at: tuple[int, int | None] | None = None
        self._scratch = np.empty(0, np.int64)  # close_boundary's output rows
        self.stats = {"alerts": 0, "late": 0, "duplicates": 0, "incidents": 0, "flag_events": 0}

    @property
    def watermark(self) -> int:
        """The least progress of every origin minus the allowed lateness (epoch ms; int64 min
        while some origin has declared nothing)."""
        return self._window.watermark

    @property
    def origins(self) -> int:
        return self._window.origins

    @property
    def retained(self) -> int:
        """Alerts held in state: the open window plus incidents not yet emitted."""
        return len(self._buffer)

    @property
    def open_flags(self) -> int:
        """Hotspot flags open now (not yet closed)."""
        return len(self._flags.open_cells())

    def publish_only(self, owns: Callable[[np.ndarray, np.ndarray], np.ndarray] | None) -> None:
        """Build flag events only for the flags centred where ``owns(lat, lon)`` (the tiles
        this partition publishes; None: every flag). The others are tracked all the same; only
        their events, which the partition drops (``correlation_loop.owned_messages``), are not
        built: about half of a dense city's, at about 10 µs each. ``stats["flag_events"]``
        counts them all the same."""
        self._flags.publishes = owns

    def process(self, batch: AlertBatch, origins: Origins | None = None) -> CorrelationOutput:
        """Admit a batch (in arrival order) and close every boundary the watermark passed.
        ``origins``: where each alert came from (None: all origin 0, nothing declared)."""
        _validate(batch, origins, self.origins)
        ids = utf8_ids(batch.alert_id)  # once: the keys hash them, the buffer keeps them
        keys = alert_keys(ids)
        origin, declared = (
            (None, None) if origins is None else (origins.origin, origins.progress_ms)
        )
        late, dup = self._window.admit(batch.event_ms, keys, self._buffer.keys, origin, declared)
        if declared is not None:
            judged = declared != NO_PROGRESS
            again = self._late.again(late & judged, keys, declared)
            again |= self._unjudged.again(~judged & ~dup, keys)
            late, dup = late & ~again, dup | again
        fresh = ~late & ~dup
        x, y = self.projection.to_xy(batch.lat[fresh], batch.lon[fresh])
        self._buffer.append(batch.take(fresh), keys[fresh], x, y, ids[fresh])
        for name, n in (("alerts", len(batch)), ("late", late.sum()), ("duplicates", dup.sum())):
            self.stats[name] += int(n)
        incidents, flags = self._close_due()
        late_at = np.flatnonzero(late)
        return CorrelationOutput(batch.take(late_at), incidents, flags, int(dup.sum()), late_at)

    def declare(self, origin: np.ndarray, progress_ms: np.ndarray) -> CorrelationOutput:
        """Watermark marks: origin ``origin[i]`` has reached ``progress_ms[i]``; close every
        boundary the watermark has passed since."""
        self._window.declare(origin, progress_ms)
        incidents, flags = self._close_due()
        return CorrelationOutput(AlertBatch.empty(), incidents, flags)

    def advance_to(self, event_ms: int) -> CorrelationOutput:
        """Move every origin's progress to ``event_ms`` (the end of a backfill: pass the last
        event time plus window and gap to flush everything)."""
        self._window.advance(event_ms)
        incidents, flags = self._close_due()
        return CorrelationOutput(AlertBatch.empty(), incidents, flags)

    # --- boundaries ---------------------------------------------------------------------------

    def _close_due(self) -> tuple[list[Incident], list[FlagEvent]]:
        complete: list[_Complete] = []
        flags: list[FlagEvent] = []
        t = self._buffer.col("event_ms")
        if len(t):
            self._window.start(int(t[0]))  # rows are canonical: the first is the earliest
        closed, transitions = False, self._flags.transitions
        while (b := self._window.pop_due()) is not None:  # loop per slide, not per event
            complete += self._close_incidents(b)
            flags += self._close_hotspots(b)
            if self._skip_quiet:
                complete += self._skip_to_change(b)
            closed = True
        incidents = self._build_incidents(complete)  # before _evict: their rows are held
        if closed:
            self._evict()
            self._late.forget_before(self._window.horizon_ms())
        self.stats["incidents"] += len(incidents)
        self.stats["flag_events"] += self._flags.transitions - transitions  # built or not
        return incidents, flags

    def _rows(self, idx: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Columns ``names`` of buffer rows ``idx`` (ascending, so in canonical order)."""
        return {name: self._buffer.col(name)[idx] for name in names}

    def _close_incidents(self, b: int) -> list[_Complete]:
        """Link the alerts new since the last boundary, and find the incidents complete at
        ``b``: those that grew no closer than the gap to it (work follows the new alerts and
        the gap before ``b``, not every pending alert). Their rows are consumed here and built
        into incidents once per call (:meth:`_build_incidents`), so building costs per
        incident, not per boundary. One kernel call (:func:`.incidents.forest.close_boundary`),
        which also finds the earliest last row :meth:`_skip_to_change` waits for, where a skip
        may follow (no flag open now)."""
        p = self.params
        want = self._skip_quiet and not len(self._flags.open_cells())
        buf = self._buffer
        if len(self._scratch) < 2 * len(buf):
            self._scratch = np.empty(4 * len(buf), np.int64)  # grown, not sized to each call
        members, heads, last = close_boundary(
            buf.views(),
            b,
            self._linked_through,
            p.incident_radius_m,
            p.incident_gap_ms,
            want,
            self._scratch,
        )
        self._linked_through = b
        self._last_at = (b, last) if want else None
        if not len(members):
            return []
        return [_Complete(members, heads, b)]

    def _build_incidents(self, complete: list[_Complete]) -> list[Incident]:
        """The incidents of the components ``complete`` found at this call's boundaries, in
        the order the boundaries emitted them (by boundary, then first event time and id):
        one :func:`build_incidents` for all, on rows the buffer still holds (nothing is
        evicted between the boundaries of one call)."""
        if not complete:
            return []
        members = np.concatenate([c.members for c in complete])
        heads = np.concatenate([c.heads for c in complete])
        at = np.concatenate([np.full(len(c.members), c.boundary_ms) for c in complete])
        # Components of different boundaries may interleave in the buffer: rows in canonical
        # order again (each component's own rows keep their order, so every sum is the same).
        order = np.argsort(members, kind="stable")
        members, heads, at = members[order], heads[order], at[order]
        rows = self._rows(members, _INCIDENT_COLUMNS)
        roots = np.searchsorted(members, heads)  # a root is its component's first member
        _, incidents = build_incidents(
            rows, roots, at, self.params.incident_gap_ms, self.projection
        )
        return incidents

    def _window_events(self, b: int, index: bool = True) -> tuple[RowIndex | None, np.ndarray]:
        """The window's events at ``b`` (its alerts with severity > 0, bursts counted once),
        indexed for the flags' disks (None when not ``index``: a quiet boundary), and the rows
        of those new since the last closed boundary (what the baseline learns).

        Burst statuses decided at earlier boundaries are final: only new alerts are decided
        here, with a burst_gap of context before the window. An index that flags laid out is
        kept and extended with the new events, and built afresh every few slides, so most
        boundaries lay out their new events only.
        """
        p, buf = self.params, self._buffer
        start = b - p.window_ms
        since = b - p.slide_ms if self._last_closed is None else self._last_closed
        bounds = (buf.through(start - p.burst_gap_ms), buf.through(start), buf.through(b))
        new_from = max(bounds[1], buf.through(since))
        scan = 0 if self._decided_ms is None else buf.through(self._decided_ms)
        cols = buf.views()
        keep = index and self._nearby is not None and b - self._nearby_ms < self._rebuild_ms
        events = window_events(
            cols,
            bounds,
            p.burst_radius_m,
            p.burst_gap_ms,
            scan,
            new_from if keep or not index else None,
        )
        self._decided_ms = b
        if not index:
            self._nearby = None  # the next flagging boundary builds its index afresh
            return None, events
        flag_cols = {name: buf.col(name) for name in _FLAG_COLUMNS}
        if keep:
            self._nearby.extend(flag_cols, events)
            return self._nearby, events
        self._nearby, self._nearby_ms = None, b  # the old index goes before the new is built
        return RowIndex(flag_cols, events), events[np.searchsorted(events, new_from) :]

    def _decide_bursts(self, b: int) -> bool:
        """Decide the burst statuses of the alerts that entered the window at ``b`` (what
        :meth:`_window_events` does first, idempotent: it decides only undecided rows);
        whether any was undecided.

        :meth:`_crowding` counts an undecided alert as an event, an upper bound: a sparse
        city's alerts come in bunches at one place and minute (a report and its updates),
        which look crowded until their repeats are known. Deciding first made the bound
        exact, and scoring at such boundaries needless: on the 90-day benchmark city
        (8,828 records) 2,311 boundaries were scored before, none after."""
        p, buf = self.params, self._buffer
        scan = 0 if self._decided_ms is None else buf.through(self._decided_ms)
        hi = buf.through(b)
        if scan >= hi:
            return False
        start = b - p.window_ms
        bounds = (buf.through(start - p.burst_gap_ms), buf.through(start), hi)
        cols = buf.views()
        window_events(cols, bounds, p.burst_radius_m, p.burst_gap_ms, scan, hi)
        self._decided_ms = b
        return True

    def _counted_events(self, start_ms: int, end_ms: int) -> Rows:
        """The rows with event time in ``(start_ms, end_ms]``: what :class:`ScaleCounts` adds
        and removes are the events among them (severity > 0, not repeats; their burst
        statuses are decided by then)."""
        buf = self._buffer
        return Rows(buf.views(), buf.through(start_ms), buf.through(end_ms))

    def _close_hotspots(self, b: int) -> list[FlagEvent]:
        p = self.params
        self._expose_skipped(b)
        if not self._skip_quiet:
            crowd = CROWDED
        elif self._no_new_test(b):
            crowd = 0  # nothing can open, nothing to tally: as a quiet boundary
        else:
            crowd = self._crowding(b)
        if p.min_count < crowd < CROWDED and self._decide_bursts(b):
            crowd = self._crowding(b)  # exact now: no undecided alert counted as an event
        if not self._can_open(b, crowd):
            # Calm: no flag is open and scoring could open none (see _crowding). Only burst
            # statuses, the baseline and the tally of tested cells move; the scale counts are
            # dropped and rebuilt from the window at the next boundary that scores (the same
            # state).
            if self._scale_counts.kept:
                self._scale_counts.clear()
            buf = self._buffer
            last = self._last_closed
            new = None
            if last is None or buf.through(b) != buf.through(last):
                _, new = self._window_events(b, index=False)
            # else no alert entered (a boundary where an incident completes): nothing to
            # decide or learn; this slide's exposure goes with the next boundary's.
            if crowd >= p.min_count:  # fewer: no cell is tested
                if self._decided_ms is None:  # after a restore: the tally needs the statuses
                    self._window_events(b, index=False)
                self._tally_calm(b)
            if new is not None:
                self._learn(b, new)
            return []
        nearby, new = self._window_events(b)
        self._scale_counts.advance(b, self._counted_events)
        scores = self._scores(b)
        if scores.tested is not None:  # new tests only (scan.new_tests)
            self.tested.add(scores.cell_id[scores.tested & scores.new_test])
        self._learn(b, new)
        flags = self._flags.step(b, scores, nearby)
        # An index no flag laid out holds rows of this boundary only: the next builds its own.
        self._nearby = nearby if nearby.laid_out else None
        # Drop what leaves the windows before the next boundary now, while the buffer holds it
        # (eviction follows the next boundary). If _skip_to_change then jumps further, it
        # drops the counts, and the later boundary rebuilds them from rows still held.
        self._scale_counts.retire(b + p.slide_ms, self._counted_events)
        return flags

    def _scores(self, b: int) -> CellScores:
        """Scores at boundary ``b``, from the kept counts (the batch reference
        :func:`~pipeline.correlate.scan.scoring.score_cells` would join the window's events)."""
        return score_scale_counts(
            self._scale_counts,
            self._flags.open_cells(),
            self.lattice,
            self.baseline,
            b,
            self.params,
            self._rates,
            self._counted_events(b - self.params.slide_ms, b),  # what entered: new tests
        )

    def _learn(self, b: int, new: np.ndarray) -> None:
        """Feed the baseline the events (bursts counted once, like scoring does) that began
        since the last closed boundary (rows ``new``), so each is learnt exactly once."""
        since = b - self.params.slide_ms if self._last_closed is None else self._last_closed
        slide = self.params.slide_ms
        # One add per slide (see baseline.exposure); skipped slides were added before scoring.
        if len(new):
            cells, counts = cell_counts(self._buffer.views(), new, self.lattice)
            self.baseline.observe(cells, counts, slide / _HOUR_MS, (b - since) // slide)
        else:  # what observe does with no counts (a boundary whose alerts are all repeats)
            self.baseline.expose(slide / _HOUR_MS, (b - since) // slide)
        self._last_closed = b

    def _expose_skipped(self, b: int) -> None:
        """The baseline's exposure of the slides skipped before ``b``, before ``b`` is scored:
        visited, each would have added its slide after its own scoring, with no counts (no
        alert entered them)."""
        slide = self.params.slide_ms
        if self._last_closed is not None and b - self._last_closed > slide:
            skipped = (b - self._last_closed) // slide - 1
            self.baseline.expose(slide / _HOUR_MS, skipped)
            self._last_closed = b - slide  # no row lies between: the same rows are new at b

    def _crowding(self, b: int, entered_only: bool = False) -> int:
        """At most how many events a scored cell counts at ``b`` (:func:`.window.quiet.crowding`;
        undecided alerts counted); :data:`.window.quiet.CROWDED` while a flag is open.

        No more than ``min_count``, and no flag open: the boundary is *calm*, scoring there
        cannot open a flag whatever the baseline. A scale counting exactly ``min_count`` is
        tested with its tail given that it reached ``min_count``, which is its own tail:
        p-value 1 (:mod:`.scan.scale_tests`). So every tested cell's p-value is 1:
        Benjamini-Hochberg at ``bh_q < 1`` finds none significant, and the recurrence bar
        (``p <= 1 / (min_recurrence_days x cell_tests_per_day)``, below 1) admits none. The
        new tests there are still tallied (:meth:`_tally_calm`). A sparse city's pairs (a grid
        report and its status update) are such windows; below ``min_count`` (quiet) no cell is
        tested. ``entered_only``: only the cells an event entered in the last slide."""
        if len(self._flags.open_cells()):
            return CROWDED
        p, buf = self.params, self._buffer
        cols = buf.views()
        lo, hi = buf.through(b - p.window_ms), buf.through(b)
        entered = max(buf.through(b - p.slide_ms), lo) if entered_only else None
        return crowding(cols, lo, hi, max(p.radii_m), p.cell_m, from_row=entered)

    def _opens_at_new_tests_only(self) -> bool:
        """Whether a flag opens only at a new test of its cell, and never at p-value 1: the
        recurrence bar (``min_recurrence_days`` set, :meth:`FlagTracker._new_hot_cells`). Read
        from the tracker's parameters: the city's bars (:mod:`.scan.test_rate`) open flags."""
        p = self._flags.params
        if p is not self._opens_for:  # frozen params: asked at every boundary, decided once
            self._opens_for = p
            self._opens_new_only = p.min_recurrence_days > 0 and p.open_p_max < 1.0
        return self._opens_new_only

    def _no_new_test(self, b: int) -> bool:
        """Whether, under the recurrence bar and with no flag open, no alert entered the slide
        of ``b``. Then no cell has a new test: no flag can open (:meth:`_can_open`) and the
        tally has nothing to add (:meth:`_tally_calm` tallies entered cells only), so the
        crowding test is not needed. Such are the boundaries where only an incident completes
        (7,464 of the 14,952 visited on the 90-day benchmark city), which the skip now runs
        without a visit where no flag is open (:meth:`_complete_ahead`): this is left for those
        reached while a flag was open."""
        buf = self._buffer
        return (
            self._opens_at_new_tests_only()
            and not len(self._flags.open_cells())
            and buf.through(b - self.params.slide_ms) == buf.through(b)
        )

    def _can_open(self, b: int, crowd: int) -> bool:
        """Whether scoring at ``b`` might open or move a flag (``crowd``: :meth:`_crowding`).

        Not when calm (``crowd`` at most ``min_count``, no flag open). Nor, under the
        recurrence bar, when no cell an event entered in the last slide counts more than
        ``min_count`` events at the largest scale: a flag opens only at such a cell's new test
        (:mod:`.scan.new_tests`), and there every p-value is 1, above the bar (see
        :meth:`_crowding`). The other cells of a busy window are re-tested on data already
        tested, which can open nothing. A window holding three events near each other is busy
        for 30 minutes, yet only the boundaries an event enters near them need scoring (the
        benchmark's sparse city has no such window once its bursts are decided,
        :meth:`_decide_bursts`; the skip property test plants them)."""
        p = self.params
        if crowd <= p.min_count:
            return False
        if crowd == CROWDED or not self._opens_at_new_tests_only():
            return True  # a flag is open, a crowded window, or Benjamini-Hochberg: score
        return self._crowding(b, entered_only=True) > p.min_count

    def _tally_calm(self, b: int) -> None:
        """Tally the new tests of the calm boundary ``b``: the cells scoring would have tested
        there that an event entered in its slide (:mod:`.scan.new_tests`)."""
        p, buf = self.params, self._buffer
        lo, hi = buf.through(b - p.window_ms), buf.through(b)
        cols = buf.views()
        radius = max(p.radii_m)
        tested = cells_tested(
            cols, (lo, hi), np.array([b]), p.window_ms, radius, p.cell_m, p.min_count
        )
        entered = entered_cells(tested, self.lattice, self._counted_events(b - p.slide_ms, b))
        self.tested.add(tested[entered])

    def _skip_to_change(self, b: int) -> list[_Complete]:
        """After boundary ``b``, jump to the next boundary at which anything can change.

        No flag is open, and the boundaries between are calm (:meth:`_crowding` at the next
        one, and no alert enters before the target, so windows only lose alerts), or, under
        the recurrence bar, have no new test (:meth:`_can_open`); and no incident can complete
        (one completes once its last alert is more than the gap before a boundary: the
        earliest last alert of a component, :func:`.incidents.forest.earliest_last`). Visited, they
        would emit nothing and change no state but the baseline's exposure, which the target's
        :meth:`_learn` adds slide by slide. Their tests are re-tests of events already tested, not
        new ones (:mod:`.scan.new_tests`): nothing to tally.

        Under the recurrence bar, the boundaries before the next alert enters at which only
        incidents complete are not visited either (:meth:`_complete_ahead`): their incidents
        are returned, as their visits would have found them.
        """
        p, buf = self.params, self._buffer
        nxt = b + p.slide_ms
        new_only = self._opens_at_new_tests_only()
        if new_only:
            # No alert enters before the target: no new test, so no flag can open (_can_open)
            if len(self._flags.open_cells()):
                return []
        elif self._crowding(nxt) > p.min_count:
            return []
        after = buf.through(b)
        due = []
        if after < len(buf):  # rows are canonical: the next one is the earliest
            due.append(int(buf.col("event_ms")[after]))
        if self._last_at is not None and self._last_at[0] == b:
            last = self._last_at[1]  # found by this boundary's incident step
        else:  # a flag was open then, and closed at b
            last = earliest_last(buf.views(), after)
        complete = []
        if new_only and last is not None:
            complete, last = self._complete_ahead(due[0] if due else None, last)
        if last is not None:
            # No component completes before its last row is more than the gap before a
            # boundary (_close_incidents' live rows): the first such boundary.
            due.append(last + p.incident_gap_ms + 1)
        self._window.skip_to(min(due) if due else None)
        target = self._window.next_boundary
        if target > nxt:
            # No event enters the slide of a boundary jumped over, so none of the tests there
            # is new (scan.new_tests): the tally of tested cells has nothing to add.
            if self._scale_counts.kept:
                # Rows that leave the windows before the target may be evicted by then.
                self._scale_counts.clear()
        return complete

    def _complete_ahead(self, next_ms: int | None, last: int) -> tuple[list[_Complete], int | None]:
        """The incidents of the boundaries before the one the next alert (event time
        ``next_ms``; None: none held) enters, at which only incidents complete, without
        visiting them; ``last``: the earliest last row's time of a pending component. Returns
        them and the earliest last row left.

        Under the recurrence bar with no flag open, such a boundary's visit links nothing (no
        alert entered), consumes the components complete there, finds no new test and so takes
        the calm path (:meth:`_no_new_test`), which drops the kept scale counts and adds the
        slides' exposure, nothing else. Here each one's incident step runs alone
        (:func:`.incidents.forest.close_boundary`, at the first boundary more than the gap
        after ``last``, while closable), the counts are dropped likewise, and the exposure is
        added by the next visit: the same slides, one add each in order, so the same bits.
        About one visit in two on the benchmark's sparse city was such a boundary."""
        p, buf = self.params, self._buffer
        slide, gap = p.slide_ms, p.incident_gap_ms
        stop = self._window.watermark  # a boundary closes only below the watermark
        if next_ms is not None:  # the boundary the next alert enters is a visit
            stop = min(stop, -(-next_ms // slide) * slide)
        complete: list[_Complete] = []
        while last is not None:
            at = -(-(last + gap + 1) // slide) * slide  # where that component completes
            if at >= stop:
                break
            members, heads, last = close_boundary(
                buf.views(), at, self._linked_through, p.incident_radius_m, gap, True, self._scratch
            )
            self._linked_through = at
            if len(members):  # always, as ``last`` was that of a pending component
                complete.append(_Complete(members, heads, at))
        if complete and self._scale_counts.kept:
            self._scale_counts.clear()
        return complete, last

    def _evict(self) -> None:
        horizon = self._window.horizon_ms() - self.params.burst_gap_ms  # repeat context
        keep = self._buffer.col("pending").copy()
        keep[self._buffer.through(horizon) :] = True  # rows after the horizon stay
        if not keep.all():
            self._buffer.compact(keep)

    # --- snapshot / restore -------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """All state needed to continue identically after a restart, as bytes."""
        return self._snapshot(None)[0]

    def checkpoint(self) -> tuple[bytes, dict[str, bytes]]:
        """:meth:`snapshot` for a checkpoint that is written every few seconds: the rows of
        settled buckets go to parts ``{name: bytes}`` instead, each the same name and bytes at
        every checkpoint while any of its rows is in the window, so a writer need not write it
        again (:mod:`.window.settled_rows`). Restore with both."""
        return self._snapshot(self._last_closed)

    def _snapshot(self, settled_ms: int | None) -> tuple[bytes, dict[str, bytes]]:
        # Views, not copies: the snapshot is taken between batches, and what it keeps is
        # written out (np.savez) before it returns.
        rows = self._buffer.views()
        inline, parts, live = self._settled.split(rows, settled_ms)
        header = {
            "format": _SNAPSHOT_FORMAT,
            "params": self.params.to_dict(),
            "projection": [self.projection.lat0, self.projection.lon0],
            "window": self._window.state(),
            "flags": self._flags.state(),
            "last_closed": self._last_closed,
            "stats": self.stats,
            "rows": len(self._buffer),
            "parts": [[name, len(mask)] for name, mask in live.items()],
        }
        arrays = {f"buffer.{k}": v for k, v in inline.items()}
        arrays["buffer.pending_bits"] = np.packbits(rows["pending"])
        arrays["buffer.live_bits"] = np.packbits(np.concatenate([np.ones(0, bool), *live.values()]))
        arrays |= {f"baseline.{k}": v for k, v in self.baseline.state().items()}
        arrays |= {f"late.{k}": v for k, v in self._late.state().items()}
        arrays |= {f"unjudged.{k}": v for k, v in self._unjudged.state().items()}
        out = io.BytesIO()
        np.savez(out, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
        return out.getvalue(), parts

    def _restored_rows(self, npz, header: dict, parts: Mapping[str, bytes]) -> dict:
        """The buffer columns of a snapshot, its settled rows joined back from ``parts``."""
        if "buffer.pending_bits" not in npz.files:  # format 3: every row inline
            return {k: npz[f"buffer.{k}"] for k in COLUMNS}
        names = [name for name, _ in header["parts"]]
        counts = [count for _, count in header["parts"]]
        bits = np.unpackbits(npz["buffer.live_bits"], count=sum(counts)).astype(bool)
        inline = {k: npz[f"buffer.{k}"] for k in PART_COLUMNS}
        try:
            pieces = np.split(bits, np.cumsum(counts)[:-1]) if names else []
            live = dict(zip(names, pieces, strict=True))
            rows = join_rows(inline, parts, live)
        except ValueError as exc:
            raise SnapshotError(f"{exc}; replay from the committed offsets instead") from exc
        if len(rows["key"]) != header["rows"]:
            raise SnapshotError(
                f"the snapshot's rows and parts hold {len(rows['key'])} rows, not "
                f"{header['rows']}; replay from the committed offsets instead"
            )
        pending = np.unpackbits(npz["buffer.pending_bits"], count=header["rows"])
        self._settled.adopt({name: parts[name] for name in names})
        return rows | {"pending": pending.astype(bool)}

    @classmethod
    def restore(
        cls,
        data: bytes,
        params: CorrelationParams,
        projection: LocalProjection,
        baseline: Baseline,
        origins: int = 1,
        parts: Mapping[str, bytes] | None = None,
    ) -> Correlator:
        """A correlator that continues exactly where the one that made ``data`` stopped.

        ``params`` and ``projection`` must equal the snapshot's (else results would differ);
        ``baseline`` supplies the configuration, its learned state comes from the snapshot.
        ``parts``: those :meth:`checkpoint` gave with ``data``.
        """
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
            header = json.loads(npz["header"].tobytes())
        except (OSError, ValueError, KeyError) as exc:
            raise SnapshotError(f"not a correlator snapshot ({exc}); start from scratch") from exc
        if header.get("format") not in (3, _SNAPSHOT_FORMAT):
            raise SnapshotError(
                f"snapshot format {header.get('format')} is not one this version reads (3 or "
                f"{_SNAPSHOT_FORMAT}); replay from the committed offsets instead"
            )
        _check_same_settings(header, params, projection)
        engine = cls(params, projection, baseline, origins)
        # Scale counts start empty and are rebuilt from the buffer at the next boundary.
        engine._buffer = AlertBuffer.from_state(engine._restored_rows(npz, header, parts or {}))
        baseline.load_state(
            {k[len("baseline.") :]: npz[k] for k in npz.files if k.startswith("baseline.")}
        )
        engine._window.load_state(header["window"])
        if "late.keys" in npz.files:  # a snapshot from before the late memory: none
            engine._late.load_state(
                {k[len("late.") :]: npz[k] for k in npz.files if k.startswith("late.")}
            )
        if "unjudged.keys" in npz.files:  # a snapshot from before that memory: none
            engine._unjudged.load_state({"keys": npz["unjudged.keys"]})
        engine._flags.load_state(header["flags"])
        engine._last_closed = header["last_closed"]
        engine.stats = header["stats"]
        return engine


def _check_same_settings(
    header: dict, params: CorrelationParams, projection: LocalProjection
) -> None:
    """Refuse a snapshot whose params or projection differ from these, naming what differs.

    A setting the snapshot lacks was added after it was written, so the snapshot counts as
    taken under the setting's earlier behaviour (:class:`CorrelationParams`' rule): its
    default, or its value in ``EARLIER_DEFAULTS`` where the default has changed since. An
    upgrade that adds a setting restores, instead of rebuilding every partition from its
    input, unless the setting is set to something else than it was. A setting in
    ``RESTORE_ADOPTS`` may differ: the restore goes on under today's value, and says so.
    """
    taken = CorrelationParams().to_dict() | EARLIER_DEFAULTS | header["params"]
    now = params.to_dict()
    changed = [k for k in sorted(taken) if now.get(k, _ABSENT) != taken[k]]

    def what(keys: list[str]) -> list[str]:
        return [
            f"{k}: {taken[k]!r} in the snapshot, {now.get(k, 'no such setting')!r} now"
            for k in keys
        ]

    adopted = [k for k in changed if k in RESTORE_ADOPTS]
    if adopted:
        log.warning(
            "restoring a correlator snapshot taken under other flag-opening settings (%s): "
            "flags it holds stay open, new ones open by today's settings",
            "; ".join(what(adopted)),
        )
    differ = what([k for k in changed if k not in RESTORE_ADOPTS])
    if header["projection"] != [projection.lat0, projection.lon0]:
        differ.append(
            f"projection origin: {header['projection']} in the snapshot, "
            f"{[projection.lat0, projection.lon0]} now"
        )
    if differ:
        raise SnapshotError(
            "snapshot was taken with other params or projection ("
            + "; ".join(differ)
            + "); restore with the same settings, or replay from the committed offsets"
        )
