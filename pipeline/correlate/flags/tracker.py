"""Hotspot flags: a state machine per hotspot that opens, updates and closes with hysteresis.

Each cell is scored at its most significant scale (window and radius, see
:mod:`pipeline.correlate.scan.scoring`); every event reports that scale.

* **open**: a cell whose score reaches ``open_score`` that is also Benjamini-Hochberg
  significant, holds at least ``min_count`` alerts and at least ``min_rate_ratio`` times its
  expected count. Hot cells are taken best score first; a hot cell within ``merge_radius_m``
  of an open flag's cell (or of a flag opened before it at this boundary) of the same routing
  tile (``merge_tile_m``) feeds that flag instead of opening its own, so one hotspot gives one
  flag, not a cluster of them (two where it straddles a tile edge: a partition holds whole
  tiles, so a cell's flag never depends on how many partitions the city is split into),
  unless ``merge_apart_m`` is set and the cell lies farther than that from the flag's cell and
  scores higher than it does now (a second cluster, not the first one's fringe). With
  ``min_recurrence_days`` set, its recurrence interval must reach that many days instead of
  Benjamini-Hochberg significance, and it opens only at a new test of its cell (an event
  entered the cell in the last slide, :mod:`pipeline.correlate.scan.new_tests`).
* **update**: at later boundaries, when the flag cell's counts change or its score moved by at
  least ``update_score_delta`` since the flag's last event.
* **close**: when its disk holds no counted alert any more, or after ``close_after_slides``
  consecutive boundaries with a score below ``close_score``.

Every event carries the flag's recurrence interval (days), ``1 / (p_value x
cell_tests_per_day)`` (:class:`~pipeline.correlate.params.CorrelationParams`).

A flag's id derives from its cell and opening boundary, so a replay reproduces it; its version
increases by one per event.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Literal

import msgspec
import numpy as np

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.geo.projection import LocalProjection

from ..lattice import Lattice
from ..named_counts import named_counts
from ..params import CorrelationParams
from ..scan.scoring import CellScores
from .details import DiskDetails, RowIndex
from .suppression import hot_cells

__all__ = ["FlagEvent", "FlagTracker", "flag_id", "flag_schema"]

Status = Literal["open", "update", "close"]


class FlagEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One version of a hotspot flag, as published on ``hotspots.flags`` (latest version wins)."""

    flag_id: str
    version: int
    status: Status
    boundary_ms: int  # event time of the slide boundary this version was computed at
    opened_ms: int  # boundary at which the flag opened
    lat: float  # flag centre: the centre of its lattice cell, WGS84
    lon: float
    radius_m: float  # the scale that made the cell hot: disk radius (m) ...
    window_s: int  # ... and window length (s); see CorrelationParams.windows_s / radii_m
    cell_id: int
    score: float
    p_value: float
    #: days one waits for a cluster this strong by chance anywhere in the city:
    #: 1 / (p_value x cell tests a day), see CorrelationParams.cell_tests_per_day
    recurrence_days: float = 0.0
    gi_z: float | None  # Getis-Ord Gi* of the cell; None when undefined (uniform counts)
    observed: int  # counted alerts within radius_m in the last window_s
    expected: float  # baseline count for the same disk and window
    n_sources: int
    source_counts: dict[str, int]
    category_counts: dict[str, int]
    grid: int  # registry index of the grid cell of the contributing alert nearest the centre
    first_event_ms: int | None  # of the contributing alerts; None when there are none left
    last_event_ms: int | None

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)


def flag_schema() -> dict:
    """JSON Schema of :class:`FlagEvent` (for ``schemas/``)."""
    return msgspec.json.schema(FlagEvent)


def flag_id(cell_id: int, opened_ms: int) -> str:
    """Stable id of the flag that opened on ``cell_id`` at boundary ``opened_ms``."""
    return "flg-" + hashlib.blake2b(f"{cell_id}:{opened_ms}".encode(), digest_size=8).hexdigest()


class _OpenFlags:
    """The open flags as columns, in opening order (a flag's state is a row)."""

    def __init__(self, n_sources: int) -> None:
        self.flag_id: list[str] = []
        self.cell_id = np.empty(0, np.int64)
        self.opened_ms = np.empty(0, np.int64)
        self.version = np.empty(0, np.int64)
        self.cool = np.empty(0, np.int64)  # consecutive boundaries below close_score
        self.last_score = np.empty(0)
        # The signature (count, then counts by source) of the flag's last event
        self.last_counts = np.empty((0, 1 + n_sources), np.int64)

    def __len__(self) -> int:
        return len(self.flag_id)

    def keep(self, rows: np.ndarray) -> None:
        self.flag_id = [self.flag_id[d] for d in rows.tolist()]
        for name in ("cell_id", "opened_ms", "version", "cool", "last_score", "last_counts"):
            setattr(self, name, getattr(self, name)[rows])

    def add(self, flag_ids: list[str], cell_id, opened_ms: int, score, counts) -> None:
        """New flags, each just past its first event (version 1)."""
        n = len(flag_ids)
        self.flag_id += flag_ids
        self.cell_id = np.concatenate([self.cell_id, cell_id])
        self.opened_ms = np.concatenate([self.opened_ms, np.full(n, opened_ms, np.int64)])
        self.version = np.concatenate([self.version, np.ones(n, np.int64)])
        self.cool = np.concatenate([self.cool, np.zeros(n, np.int64)])
        self.last_score = np.concatenate([self.last_score, score])
        self.last_counts = np.concatenate([self.last_counts, counts])

    def state(self) -> list[dict]:
        columns = zip(
            self.flag_id,
            self.cell_id.tolist(),
            self.opened_ms.tolist(),
            self.version.tolist(),
            self.cool.tolist(),
            self.last_score.tolist(),
            self.last_counts.tolist(),
            strict=True,
        )
        return [
            {"flag_id": f, "cell_id": c, "opened_ms": o, "version": v, "cool": k,
             "last_score": s, "last_counts": tuple(n)}
            for f, c, o, v, k, s, n in columns
        ]  # fmt: skip

    @classmethod
    def from_state(cls, state: list[dict], n_sources: int) -> _OpenFlags:
        out = cls(n_sources)
        width = 1 + n_sources
        out.flag_id = [s["flag_id"] for s in state]
        out.cell_id = np.array([s["cell_id"] for s in state], np.int64)
        out.opened_ms = np.array([s["opened_ms"] for s in state], np.int64)
        out.version = np.array([s.get("version", 0) for s in state], np.int64)
        out.cool = np.array([s.get("cool", 0) for s in state], np.int64)
        out.last_score = np.array([s.get("last_score", 0.0) for s in state], np.float64)
        # A signature of another width (none yet) matches no count: the next step emits.
        out.last_counts = np.array(
            [c if len(c := s.get("last_counts", ())) == width else [-1] * width for s in state],
            np.int64,
        ).reshape(len(state), width)
        return out


_SOURCE_NAMES = np.array(SOURCES, dtype=object)
_CATEGORY_NAMES = np.array(CATEGORIES, dtype=object)


def _flag_events(
    scores: CellScores,
    ks: np.ndarray,
    placed: tuple,
    flags: tuple[list, list, list, list, list],
    boundary_ms: int,
    params: CorrelationParams,
) -> list[FlagEvent]:
    """The events of the flags at rows ``ks`` of ``scores`` (``placed``: their centres and
    disk details; ``flags``: their ids, cells, opening boundaries, versions and statuses).
    Every column is converted with one ``tolist()`` per boundary, not a NumPy scalar per
    field and event (the same ints and floats)."""
    _, _, lat, lon, details = placed
    isfinite = math.isfinite
    columns = zip(
        *flags,
        lat.tolist(),
        lon.tolist(),
        scores.radius_m[ks].tolist(),
        scores.window_s[ks].tolist(),
        scores.score[ks].tolist(),
        scores.p_value[ks].tolist(),
        params.recurrence_days(scores.p_value[ks]).tolist(),
        scores.gi_z[ks].tolist(),
        scores.count[ks].tolist(),
        scores.expected[ks].tolist(),
        scores.n_sources[ks].tolist(),
        named_counts(details.by_source, _SOURCE_NAMES),
        named_counts(details.by_category, _CATEGORY_NAMES),
        details.grid.tolist(),
        details.first_ms.tolist(),
        details.last_ms.tolist(),
        strict=True,
    )
    return [
        FlagEvent(
            flag_id=flag,
            version=version,
            status=status,
            boundary_ms=boundary_ms,
            opened_ms=opened,
            lat=la,
            lon=lo,
            radius_m=radius,
            window_s=window,
            cell_id=cell,
            score=score,
            p_value=p,
            recurrence_days=recurrence,
            gi_z=gi if isfinite(gi) else None,
            observed=count,
            expected=expected,
            n_sources=n_sources,
            source_counts=by_source,
            category_counts=by_category,
            grid=grid if first <= last else -1,  # no event left in the disk: none
            first_event_ms=first if first <= last else None,
            last_event_ms=last if first <= last else None,
        )
        for (flag, cell, opened, version, status, la, lo, radius, window, score, p, recurrence,
             gi, count, expected, n_sources, by_source, by_category, grid, first, last) in columns
    ]  # fmt: skip


def _rows(placed: tuple, rows: np.ndarray | slice) -> tuple:
    """``placed`` (centres and disk details, see ``FlagTracker._details``) at ``rows``
    (indices, or a slice: views)."""
    cx, cy, lat, lon, d = placed
    details = DiskDetails(
        d.by_source[rows], d.by_category[rows], d.grid[rows], d.first_ms[rows], d.last_ms[rows]
    )
    return cx[rows], cy[rows], lat[rows], lon[rows], details


class FlagTracker:
    """Open flags and the transitions of each boundary."""

    def __init__(
        self, params: CorrelationParams, lattice: Lattice, projection: LocalProjection
    ) -> None:
        self.params = params
        self.lattice = lattice
        self.projection = projection
        self._open = _OpenFlags(len(SOURCES))
        #: ``publishes(lat, lon)``: which flag centres this tracker's events are built for
        #: (None: all). The others open, update and close all the same (state, versions,
        #: suppression); only their events, which their partition would drop, are not built.
        self.publishes: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
        self.transitions = 0  # flag events so far, built or not

    def open_cells(self) -> np.ndarray:
        return self._open.cell_id

    def step(self, boundary_ms: int, scores: CellScores, nearby: RowIndex) -> list[FlagEvent]:
        """Events of one boundary: closes and updates of open flags, then new flags.

        ``scores`` must include every open flag's cell; ``nearby`` are the counted alerts of
        the window (for the per-flag details).
        """
        p, o = self.params, self._open
        ks = np.searchsorted(scores.cell_id, o.cell_id)  # scores.find, all at once
        count, score = scores.count[ks], scores.score[ks]
        cool = np.where(score < p.close_score, o.cool + 1, 0)
        closing = (count == 0) | (cool >= p.close_after_slides)
        # Which flags close needs no disk details, so the cells that open (which the flags
        # staying open suppress) are known before any disk is described, and one kernel call
        # describes both (each disk's figures are its own: the same as two calls).
        hot = self._new_hot_cells(scores, o.cell_id[~closing])
        if not len(ks) and not len(hot):
            return []  # nothing open and nothing to open (most boundaries of a quiet city)
        o.cool = cool
        both = self._details(boundary_ms, scores, np.concatenate([ks, hot]), nearby)
        n_open = len(ks)
        placed = _rows(both, slice(0, n_open))
        # What a patrol would see change: the count and its split by feed (SOURCES order).
        signature = np.column_stack([count, placed[4].by_source]).astype(np.int64)
        moved = np.abs(score - o.last_score) >= p.update_score_delta
        emit = np.flatnonzero(closing | moved | (signature != o.last_counts).any(axis=1))
        self.transitions += len(emit) + len(hot)
        built = self._published(placed, emit)
        flags = (
            [o.flag_id[d] for d in built.tolist()],
            o.cell_id[built].tolist(),
            o.opened_ms[built].tolist(),
            (o.version[built] + 1).tolist(),
            np.where(closing[built], "close", "update").tolist(),
        )
        events = _flag_events(
            scores, ks[built], _rows(placed, built), flags, boundary_ms, self.params
        )
        o.last_score[emit] = score[emit]
        o.last_counts[emit] = signature[emit]
        o.version[emit] += 1
        o.keep(np.flatnonzero(~closing))
        placed = _rows(both, slice(n_open, None))
        cells = scores.cell_id[hot].tolist()
        flag_ids = [flag_id(cell, boundary_ms) for cell in cells]
        built = self._published(placed, np.arange(len(hot)))
        n = len(built)
        flags = (
            [flag_ids[d] for d in built.tolist()], [cells[d] for d in built.tolist()],
            [boundary_ms] * n, [1] * n, ["open"] * n,
        )  # fmt: skip
        events += _flag_events(
            scores, hot[built], _rows(placed, built), flags, boundary_ms, self.params
        )
        counts = np.column_stack([scores.count[hot], placed[4].by_source]).astype(np.int64)
        o.add(flag_ids, scores.cell_id[hot], boundary_ms, scores.score[hot], counts)
        return events

    def _published(self, placed: tuple, rows: np.ndarray) -> np.ndarray:
        """Those of ``rows`` (of ``placed``) whose events are built: see :attr:`publishes`."""
        if self.publishes is None or not len(rows):
            return rows
        return rows[self.publishes(placed[2][rows], placed[3][rows])]

    def _new_hot_cells(self, scores: CellScores, open_cells: np.ndarray) -> np.ndarray:
        """Rows of cells that open flags: hot, best first, none within the radius of a flag
        (of ``open_cells``: those of the flags that stay open)."""
        p = self.params
        ix, iy = self.lattice.unpack(open_cells)
        # the minimum recurrence interval, as a p-value bar on the cells that may open
        significant = scores.significant & (scores.p_value <= p.open_p_max)
        if p.min_recurrence_days > 0 and scores.new_test is not None:
            # The bar is the multiple-testing control over the city and the day: it replaces
            # Benjamini-Hochberg, whose family (the cells of one partition at one boundary)
            # depends on how many partitions the city is split into; and a flag opens at a new
            # test only, so every opening is one of the tests the claimed rate counts.
            significant = (scores.p_value <= p.open_p_max) & scores.new_test
        columns = (
            significant, scores.score, scores.count, scores.expected, scores.ix, scores.iy,
        )  # fmt: skip
        thresholds = (p.open_score, p.min_count, p.min_rate_ratio)
        tile_cells = p.merge_tile_m / p.cell_m
        # the open flags' cells as scored now (``scores`` holds every open flag's cell)
        taken_score = scores.score[np.searchsorted(scores.cell_id, open_cells)]
        radius, apart = p.merge_radius_m / p.cell_m, p.merge_apart_m / p.cell_m
        return hot_cells(columns, ix, iy, thresholds, radius, tile_cells, taken_score, apart)

    def _details(
        self, boundary_ms: int, scores: CellScores, ks: np.ndarray, nearby: RowIndex
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, DiskDetails]:
        """Centres ``(x, y, lat, lon)`` of the cells at rows ``ks`` of ``scores`` (one
        projection call per boundary, element-wise, so the same values as one per event), and
        the events in the disk (at its scale) of each."""
        cx, cy = self.lattice.centre(scores.ix[ks], scores.iy[ks])
        lat, lon = self.projection.to_latlon(cx, cy)
        after = boundary_ms - scores.window_s[ks].astype(np.int64) * 1000
        return cx, cy, lat, lon, nearby.describe(cx, cy, scores.radius_m[ks], after)

    def state(self) -> list[dict]:
        return self._open.state()

    def load_state(self, state: list[dict]) -> None:
        self._open = _OpenFlags.from_state(state, len(SOURCES))
