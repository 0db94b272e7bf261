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


def _signature(event: FlagEvent) -> tuple[int, ...]:
    """What a patrol would see change: the count and its split by feed."""
    return (event.observed, *(event.source_counts.get(s, 0) for s in SOURCES))


def _names(counts: np.ndarray, names: tuple[str, ...]) -> dict[str, int]:
    return {names[k]: n for k, n in enumerate(counts.tolist()) if n}


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

    def step(
        self, boundary_ms: int, scores: CellScores, rows: dict[str, np.ndarray]
    ) -> list[FlagEvent]:
        """Events of one boundary: closes and updates of open flags, then new flags.

        ``scores`` must include every open flag's cell; ``rows`` are the counted alerts of the
        window (for the per-flag details).
        """
        events = []
        still_open = []
        nearby = RowIndex(rows)
        ks = np.searchsorted(scores.cell_id, self.open_cells())  # scores.find, all at once
        places = self._places(scores, ks)
        details = self._details(boundary_ms, scores, ks, places, nearby)
        for d, (f, k, place) in enumerate(zip(self._open, ks.tolist(), places, strict=True)):
            count, score = int(scores.count[k]), float(scores.score[k])
            f.cool = f.cool + 1 if score < self.params.close_score else 0
            closing = count == 0 or f.cool >= self.params.close_after_slides
            status = "close" if closing else "update"
            event = self._event(f, status, boundary_ms, scores, k, place, details, d)
            if closing or self._changed(f, event):
                events.append(self._emit(f, event))
            if not closing:
                still_open.append(f)
        self._open = still_open
        hot = self._new_hot_cells(scores)
        places = self._places(scores, hot)
        details = self._details(boundary_ms, scores, hot, places, nearby)
        for d, (k, place) in enumerate(zip(hot, places, strict=True)):
            f = _Open(
                flag_id(int(scores.cell_id[k]), boundary_ms), int(scores.cell_id[k]), boundary_ms
            )
            event = self._event(f, "open", boundary_ms, scores, k, place, details, d)
            events.append(self._emit(f, event))
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

    def _places(self, scores: CellScores, ks) -> list[tuple[float, float, float, float]]:
        """Centre ``(x, y, lat, lon)`` of the cells at rows ``ks`` of ``scores``: one projection
        call per boundary instead of one per event (element-wise, so the same values)."""
        ks = np.asarray(ks, np.int64)
        cx, cy = self.lattice.centre(scores.ix[ks], scores.iy[ks])
        lat, lon = self.projection.to_latlon(cx, cy)
        return list(zip(cx.tolist(), cy.tolist(), lat.tolist(), lon.tolist(), strict=True))

    def _changed(self, f: _Open, event: FlagEvent) -> bool:
        moved = abs(event.score - f.last_score) >= self.params.update_score_delta
        return moved or _signature(event) != f.last_counts

    @staticmethod
    def _emit(f: _Open, event: FlagEvent) -> FlagEvent:
        f.last_score = event.score
        f.last_counts = _signature(event)
        f.version = event.version
        return event

    @staticmethod
    def _details(boundary_ms: int, scores: CellScores, ks, places, nearby: RowIndex) -> DiskDetails:
        """The events in the disk (at its scale) of each cell at rows ``ks`` of ``scores``."""
        ks = np.asarray(ks, np.int64)
        cx = np.array([p[0] for p in places], np.float64)
        cy = np.array([p[1] for p in places], np.float64)
        after = boundary_ms - scores.window_s[ks].astype(np.int64) * 1000
        return nearby.describe(cx, cy, scores.radius_m[ks], after)

    def _event(
        self,
        f: _Open,
        status: Status,
        boundary_ms: int,
        scores: CellScores,
        k: int,
        place: tuple[float, float, float, float],
        details: DiskDetails,
        d: int,
    ) -> FlagEvent:
        """The event of flag ``f`` from row ``k`` of ``scores`` and disk ``d`` of ``details``."""
        _, _, lat, lon = place
        gi = float(scores.gi_z[k])
        found = details.found(d)
        return FlagEvent(
            flag_id=f.flag_id,
            version=f.version + 1,
            status=status,
            boundary_ms=boundary_ms,
            opened_ms=f.opened_ms,
            lat=lat,
            lon=lon,
            radius_m=float(scores.radius_m[k]),
            window_s=int(scores.window_s[k]),
            cell_id=f.cell_id,
            score=float(scores.score[k]),
            p_value=float(scores.p_value[k]),
            gi_z=gi if math.isfinite(gi) else None,
            observed=int(scores.count[k]),
            expected=float(scores.expected[k]),
            n_sources=int(scores.n_sources[k]),
            source_counts=_names(details.by_source[d], SOURCES),
            category_counts=_names(details.by_category[d], CATEGORIES),
            grid=int(details.grid[d]) if found else -1,
            first_event_ms=int(details.first_ms[d]) if found else None,
            last_event_ms=int(details.last_ms[d]) if found else None,
        )

    def state(self) -> list[dict]:
        return [asdict(f) for f in self._open]

    def load_state(self, state: list[dict]) -> None:
        self._open = [_Open(**{**s, "last_counts": tuple(s["last_counts"])}) for s in state]
