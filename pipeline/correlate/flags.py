"""Hotspot flags: a state machine per hotspot that opens, updates and closes with hysteresis.

Each cell is scored at its most significant scale (window and radius, see
:mod:`pipeline.correlate.scoring`); every event reports that scale.

* **open**: a cell whose score reaches ``open_score`` that is also Benjamini-Hochberg
  significant, holds at least ``min_count`` alerts and at least ``min_rate_ratio`` times its
  expected count. Hot cells are taken best score first; a hot cell within ``merge_radius_m``
  of an open flag's cell (or of a flag opened before it at this boundary) feeds that flag
  instead of opening its own, so one hotspot gives one flag, not a cluster of them.
* **update**: at later boundaries, when the flag cell's counts change or its score moved by at
  least ``update_score_delta`` since the flag's last event.
* **close**: when its disk holds no counted alert any more, or after ``close_after_slides``
  consecutive boundaries with a score below ``close_score``.

A flag's id derives from its cell and opening boundary, so a replay reproduces it; its version
increases by one per event.
"""

from __future__ import annotations

import hashlib
import math
from itertools import compress
from typing import Literal

import msgspec
import numpy as np

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.geo.projection import LocalProjection

from .disk_details import DiskDetails, RowIndex
from .lattice import Lattice
from .params import CorrelationParams
from .scoring import CellScores
from .suppression import suppress_near

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


def _names(counts: list[int], names: tuple[str, ...]) -> dict[str, int]:
    """The non-zero counts by name, in code order (``compress`` runs the loop in C)."""
    return dict(compress(zip(names, counts, strict=True), counts))


class _Fields:
    """The Python values of the events of one boundary's flags at rows ``ks`` of ``scores``
    (``placed``: their centres and disk details): one ``tolist()`` per column and boundary
    instead of a NumPy scalar per field and event (the same ints and floats)."""

    def __init__(self, scores: CellScores, ks: np.ndarray, placed: tuple) -> None:
        _, _, lat, lon, details = placed
        self.lat, self.lon = lat.tolist(), lon.tolist()
        self.cell_id = scores.cell_id[ks].tolist()
        self.radius_m = scores.radius_m[ks].tolist()
        self.window_s = scores.window_s[ks].tolist()
        self.score = scores.score[ks].tolist()
        self.p_value = scores.p_value[ks].tolist()
        self.gi_z = scores.gi_z[ks].tolist()
        self.count = scores.count[ks].tolist()
        self.expected = scores.expected[ks].tolist()
        self.n_sources = scores.n_sources[ks].tolist()
        self.by_source = details.by_source.tolist()
        self.by_category = details.by_category.tolist()
        self.grid = details.grid.tolist()
        self.first_ms = details.first_ms.tolist()
        self.last_ms = details.last_ms.tolist()

    def event(
        self, flag: tuple[str, int, int], version: int, status: Status, boundary_ms: int, d: int
    ) -> FlagEvent:
        """The event of the flag ``(flag_id, cell_id, opened_ms)`` from its row ``d``."""
        gi = self.gi_z[d]
        found = self.first_ms[d] <= self.last_ms[d]
        return FlagEvent(
            flag_id=flag[0],
            version=version,
            status=status,
            boundary_ms=boundary_ms,
            opened_ms=flag[2],
            lat=self.lat[d],
            lon=self.lon[d],
            radius_m=self.radius_m[d],
            window_s=self.window_s[d],
            cell_id=flag[1],
            score=self.score[d],
            p_value=self.p_value[d],
            gi_z=gi if math.isfinite(gi) else None,
            observed=self.count[d],
            expected=self.expected[d],
            n_sources=self.n_sources[d],
            source_counts=_names(self.by_source[d], SOURCES),
            category_counts=_names(self.by_category[d], CATEGORIES),
            grid=self.grid[d] if found else -1,
            first_event_ms=self.first_ms[d] if found else None,
            last_event_ms=self.last_ms[d] if found else None,
        )


def _rows(placed: tuple, rows: np.ndarray) -> tuple:
    """``placed`` (centres and disk details, see ``FlagTracker._details``) at ``rows``."""
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

    def open_cells(self) -> np.ndarray:
        return self._open.cell_id

    def step(self, boundary_ms: int, scores: CellScores, nearby: RowIndex) -> list[FlagEvent]:
        """Events of one boundary: closes and updates of open flags, then new flags.

        ``scores`` must include every open flag's cell; ``nearby`` are the counted alerts of
        the window (for the per-flag details).
        """
        p, o = self.params, self._open
        ks = np.searchsorted(scores.cell_id, o.cell_id)  # scores.find, all at once
        placed = self._details(boundary_ms, scores, ks, nearby)
        count, score = scores.count[ks], scores.score[ks]
        o.cool = np.where(score < p.close_score, o.cool + 1, 0)
        closing = (count == 0) | (o.cool >= p.close_after_slides)
        # What a patrol would see change: the count and its split by feed (SOURCES order).
        signature = np.column_stack([count, placed[4].by_source]).astype(np.int64)
        moved = np.abs(score - o.last_score) >= p.update_score_delta
        emit = np.flatnonzero(closing | moved | (signature != o.last_counts).any(axis=1))
        fields = _Fields(scores, ks[emit], _rows(placed, emit))
        flags = zip(
            [o.flag_id[d] for d in emit.tolist()],
            o.cell_id[emit].tolist(),
            o.opened_ms[emit].tolist(),
            strict=True,
        )
        versions = (o.version[emit] + 1).tolist()
        statuses = np.where(closing[emit], "close", "update").tolist()
        events = [
            fields.event(f, versions[d], statuses[d], boundary_ms, d) for d, f in enumerate(flags)
        ]
        o.last_score[emit] = score[emit]
        o.last_counts[emit] = signature[emit]
        o.version[emit] += 1
        o.keep(np.flatnonzero(~closing))
        hot = self._new_hot_cells(scores)
        placed = self._details(boundary_ms, scores, hot, nearby)
        fields = _Fields(scores, hot, placed)
        flag_ids = [flag_id(cell, boundary_ms) for cell in fields.cell_id]
        events += [
            fields.event((f, c, boundary_ms), 1, "open", boundary_ms, d)
            for d, (f, c) in enumerate(zip(flag_ids, fields.cell_id, strict=True))
        ]
        counts = np.column_stack([scores.count[hot], placed[4].by_source]).astype(np.int64)
        o.add(flag_ids, scores.cell_id[hot], boundary_ms, scores.score[hot], counts)
        return events

    def _new_hot_cells(self, scores: CellScores) -> np.ndarray:
        """Rows of cells that open flags: hot, best first, none within the radius of a flag."""
        p = self.params
        hot = (
            scores.significant
            & (scores.score >= p.open_score)
            & (scores.count >= p.min_count)
            & (scores.count >= p.min_rate_ratio * scores.expected)
        )
        cand = np.flatnonzero(hot)
        cand = cand[np.lexsort((scores.cell_id[cand], -scores.score[cand]))]
        ix, iy = self.lattice.unpack(self.open_cells())
        r_cells = p.merge_radius_m / p.cell_m
        chosen = suppress_near(scores.ix[cand], scores.iy[cand], ix, iy, r_cells)
        return cand[chosen]

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
