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
from dataclasses import asdict, dataclass
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


@dataclass(slots=True)
class _Open:
    flag_id: str
    cell_id: int
    opened_ms: int
    version: int = 0
    cool: int = 0  # consecutive boundaries below close_score
    last_score: float = 0.0
    last_counts: tuple[int, ...] = ()


def _names(counts: list[int], names: tuple[str, ...]) -> dict[str, int]:
    """The non-zero counts by name, in code order (``compress`` runs the loop in C)."""
    return dict(compress(zip(names, counts, strict=True), counts))


class _Fields:
    """The Python values of the events of one boundary's flags at rows ``ks`` of ``scores``:
    one ``tolist()`` per column and boundary instead of a NumPy scalar per field and event
    (the same ints and floats)."""

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

    def signature(self, d: int) -> tuple[int, ...]:
        """What a patrol would see change: the count and its split by feed (in SOURCES
        order, zeros included)."""
        return (self.count[d], *self.by_source[d])

    def event(self, f: _Open, status: Status, boundary_ms: int, d: int) -> FlagEvent:
        """The event of flag ``f`` from its row ``d``."""
        gi = self.gi_z[d]
        found = self.first_ms[d] <= self.last_ms[d]
        return FlagEvent(
            flag_id=f.flag_id,
            version=f.version + 1,
            status=status,
            boundary_ms=boundary_ms,
            opened_ms=f.opened_ms,
            lat=self.lat[d],
            lon=self.lon[d],
            radius_m=self.radius_m[d],
            window_s=self.window_s[d],
            cell_id=f.cell_id,
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


class FlagTracker:
    """Open flags and the transitions of each boundary."""

    def __init__(
        self, params: CorrelationParams, lattice: Lattice, projection: LocalProjection
    ) -> None:
        self.params = params
        self.lattice = lattice
        self.projection = projection
        self._open: list[_Open] = []

    def open_cells(self) -> np.ndarray:
        return np.array([f.cell_id for f in self._open], dtype=np.int64)

    def step(self, boundary_ms: int, scores: CellScores, nearby: RowIndex) -> list[FlagEvent]:
        """Events of one boundary: closes and updates of open flags, then new flags.

        ``scores`` must include every open flag's cell; ``nearby`` are the counted alerts of
        the window (for the per-flag details).
        """
        events = []
        still_open = []
        ks = np.searchsorted(scores.cell_id, self.open_cells())  # scores.find, all at once
        fields = _Fields(scores, ks, self._details(boundary_ms, scores, ks, nearby))
        for d, f in enumerate(self._open):
            count, score = fields.count[d], fields.score[d]
            f.cool = f.cool + 1 if score < self.params.close_score else 0
            closing = count == 0 or f.cool >= self.params.close_after_slides
            if closing or self._changed(f, score, fields.signature(d)):
                status = "close" if closing else "update"
                events.append(self._emit(f, fields, fields.event(f, status, boundary_ms, d), d))
            if not closing:
                still_open.append(f)
        self._open = still_open
        hot = np.asarray(self._new_hot_cells(scores), np.int64)
        fields = _Fields(scores, hot, self._details(boundary_ms, scores, hot, nearby))
        for d, cell in enumerate(fields.cell_id):
            f = _Open(flag_id(cell, boundary_ms), cell, boundary_ms)
            event = fields.event(f, "open", boundary_ms, d)
            events.append(self._emit(f, fields, event, d))
            self._open.append(f)
        return events

    def _new_hot_cells(self, scores: CellScores) -> list[int]:
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
        return cand[chosen].tolist()

    def _changed(self, f: _Open, score: float, signature: tuple[int, ...]) -> bool:
        moved = abs(score - f.last_score) >= self.params.update_score_delta
        return moved or signature != f.last_counts

    @staticmethod
    def _emit(f: _Open, fields: _Fields, event: FlagEvent, d: int) -> FlagEvent:
        f.last_score = event.score
        f.last_counts = fields.signature(d)
        f.version = event.version
        return event

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
        return [asdict(f) for f in self._open]

    def load_state(self, state: list[dict]) -> None:
        self._open = [_Open(**{**s, "last_counts": tuple(s["last_counts"])}) for s in state]
