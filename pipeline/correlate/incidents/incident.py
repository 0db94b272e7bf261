"""Incidents: alerts from any feeds linked by closeness in space and time.

Two alerts are linked when they are within ``incident_radius_m`` and ``incident_gap_s`` of each
other; an incident is a connected component of that graph (single linkage), so a camera firing
every few seconds at one object, the 110 call about it and the neighbour's alarm phone become
one incident. Components are found by union-find over the spatial-hash pairs
(:func:`link_components`, the reference); the engine keeps them incrementally, boundary by
boundary, in :mod:`pipeline.correlate.incidents.forest`.

An incident is emitted once, at the first boundary ``b`` with ``last event < b - gap``: every
alert that could still link to it would need an event time ``<= last + gap < b``, and those
have all arrived when ``b`` closes (see :mod:`pipeline.correlate.window.event_time`).
"""

from __future__ import annotations

import hashlib

import msgspec
import numba
import numpy as np

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.geo.projection import LocalProjection
from pipeline.geo.spatial_hash import pairs_within

from ..named_counts import named_counts
from .components import components

__all__ = [
    "Incident",
    "link_components",
    "link_components_since",
    "build_incidents",
    "incident_id",
    "incident_schema",
]


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    """One correlated incident, as published on ``incidents.correlated``."""

    incident_id: str
    first_event_ms: int
    last_event_ms: int
    boundary_ms: int  # event time of the slide boundary at which it was emitted
    lat: float  # centroid, WGS84
    lon: float
    n_alerts: int
    n_sources: int  # distinct feeds: corroboration
    source_counts: dict[str, int]
    category_counts: dict[str, int]
    max_severity: float
    grid: int  # registry index of the grid cell of the member nearest the centroid, -1 if none

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)


def incident_schema() -> dict:
    """JSON Schema of :class:`Incident` (for ``schemas/``)."""
    return msgspec.json.schema(Incident)


def incident_id(first_alert_id: str) -> str:
    """Stable id from the incident's earliest alert: the same alerts always give the same id."""
    return "inc-" + hashlib.blake2b(first_alert_id.encode(), digest_size=8).hexdigest()


# --- kernels ---------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _component_sums(comp, n_comp, cols, n_src, n_cat):
    """Per component (``comp``: each row's, in ``[0, n_comp)``) of the rows' ``cols`` ``(x, y,
    event_ms, source, category, severity)``: first and last event time, mean position, size,
    counts by source and category, and the highest severity."""
    x, y, event_ms, source, category, severity = cols
    first = np.full(n_comp, np.iinfo(np.int64).max)
    last = np.full(n_comp, np.iinfo(np.int64).min)
    sx = np.zeros(n_comp)
    sy = np.zeros(n_comp)
    size = np.zeros(n_comp, np.int64)
    by_src = np.zeros((n_comp, n_src), np.int64)
    by_cat = np.zeros((n_comp, n_cat), np.int64)
    max_sev = np.zeros(n_comp, np.float32)
    for i in range(comp.shape[0]):
        c = comp[i]
        first[c] = min(first[c], event_ms[i])
        last[c] = max(last[c], event_ms[i])
        sx[c] += x[i]
        sy[c] += y[i]
        size[c] += 1
        by_src[c, source[i]] += 1
        by_cat[c, category[i]] += 1
        max_sev[c] = max(max_sev[c], severity[i])
    return first, last, sx / size, sy / size, size, by_src, by_cat, max_sev


@numba.njit(cache=True, nogil=True)
def _nearest_member(comp, n_comp, x, y, cx, cy):
    best = np.full(n_comp, -1, np.int64)
    best_d = np.full(n_comp, np.inf)
    for i in range(comp.shape[0]):
        c = comp[i]
        d = (x[i] - cx[c]) ** 2 + (y[i] - cy[c]) ** 2
        if d < best_d[c]:  # strict: ties keep the earliest member
            best_d[c] = d
            best[c] = i
    return best


# --- Python layer ----------------------------------------------------------------------------


def link_components(
    x: np.ndarray, y: np.ndarray, event_ms: np.ndarray, radius_m: float, gap_ms: int
) -> np.ndarray:
    """Component of every alert: the index of the component's first row (rows are expected in
    canonical order, so that is its earliest alert). Returns an int64 array."""
    return link_components_since(x, y, event_ms, radius_m, gap_ms, np.full(len(x), -1))


def link_components_since(
    x: np.ndarray,
    y: np.ndarray,
    event_ms: np.ndarray,
    radius_m: float,
    gap_ms: int,
    known_root: np.ndarray,
) -> np.ndarray:
    """:func:`link_components`, given the roots found at an earlier boundary.

    ``known_root[i]`` is the row of ``i``'s root when ``i`` was linked before (-1 for rows new
    since). Rows linked before keep their components (merged by their root edges), so only the
    pairs with a new row are searched (among rows no more than ``gap_ms`` older than the oldest
    new row, scanning from the new rows alone). The roots equal :func:`link_components` on all
    rows as long as ``known_root`` holds the components of the old rows among themselves: a
    pair of two old rows then lies inside one of those components already.
    """
    known_root = np.asarray(known_root, np.int64)
    # Edges run to millions on dense windows: int32 row numbers whenever they suffice.
    dtype = np.int32 if len(x) <= np.iinfo(np.int32).max else np.int64
    old = np.flatnonzero(known_root >= 0)
    pi = pj = np.empty(0, dtype)
    new = known_root < 0
    if new.any():
        first = np.flatnonzero(event_ms >= event_ms[new].min() - gap_ms).astype(dtype)
        ci, cj = pairs_within(
            x[first],
            y[first],
            radius_m,
            event_ms[first],
            gap_ms,
            active=None if new.all() else new[first],
        )
        pi, pj = first[ci], first[cj]
        del ci, cj
    edges_i = np.concatenate([pi, old.astype(dtype)])
    edges_j = np.concatenate([pj, known_root[old].astype(dtype)])
    del pi, pj
    return components(len(x), edges_i, edges_j)


def _text(alert_id: str | bytes) -> str:
    """An id from an ``S`` column (the engine's UTF-8 bytes) or a ``str`` / ``U`` one."""
    return alert_id.decode("utf-8") if isinstance(alert_id, bytes) else str(alert_id)


_SOURCE_NAMES = np.array(SOURCES, dtype=object)
_CATEGORY_NAMES = np.array(CATEGORIES, dtype=object)


def build_incidents(
    rows: dict[str, np.ndarray],
    roots: np.ndarray,
    boundary_ms: int | np.ndarray,
    gap_ms: int,
    projection: LocalProjection,
) -> tuple[np.ndarray, list[Incident]]:
    """Incidents complete at ``boundary_ms``, from rows in canonical order and their roots.

    ``boundary_ms``: one boundary for all rows, or each row's (int64, one per row, equal
    within a component): the engine builds the incidents of all the boundaries one call closed
    at once. Returns a mask of the rows they consume and the incidents, ordered by boundary,
    first event time and id. Components whose last alert is within ``gap_ms`` of their
    boundary are left for later.
    """
    # Roots are rows that are their own root (components() roots each at its smallest row), so
    # the heads and each row's component rank come without sorting: np.unique's result.
    is_head = roots == np.arange(len(roots))
    heads = np.flatnonzero(is_head)
    comp = (np.cumsum(is_head) - 1)[roots]
    n = len(heads)
    cols = (
        rows["x"],
        rows["y"],
        rows["event_ms"],
        rows["source"].astype(np.int64),
        rows["category"].astype(np.int64),
        rows["severity"],
    )
    first, last, cx, cy, size, by_src, by_cat, max_sev = _component_sums(
        comp, n, cols, len(SOURCES), len(CATEGORIES)
    )
    at = np.broadcast_to(np.asarray(boundary_ms, np.int64), roots.shape)[heads]
    done = last < at - gap_ms
    nearest = _nearest_member(comp, n, rows["x"], rows["y"], cx, cy)
    lat, lon = projection.to_latlon(cx, cy)
    done_c = np.flatnonzero(done)
    # Python values for the emitted components in one tolist() per column (not a NumPy
    # scalar per field and incident): the same ints and floats.
    firsts, lasts = first[done_c].tolist(), last[done_c].tolist()
    lats, lons = lat[done_c].tolist(), lon[done_c].tolist()
    sizes, sevs = size[done_c].tolist(), max_sev[done_c].tolist()
    n_srcs = (by_src[done_c] > 0).sum(axis=1).tolist()
    srcs = named_counts(by_src[done_c], _SOURCE_NAMES)
    cats = named_counts(by_cat[done_c], _CATEGORY_NAMES)
    grids = rows["grid"][nearest[done_c]].tolist()
    ids = rows["alert_id"][heads[done_c]].tolist()
    bounds = at[done_c].tolist()
    out = [
        Incident(
            incident_id=incident_id(_text(ids[k])),
            first_event_ms=firsts[k],
            last_event_ms=lasts[k],
            boundary_ms=bounds[k],
            lat=lats[k],
            lon=lons[k],
            n_alerts=sizes[k],
            n_sources=n_srcs[k],
            source_counts=srcs[k],
            category_counts=cats[k],
            max_severity=round(sevs[k], 6),
            grid=grids[k],
        )
        for k in range(len(done_c))
    ]
    out.sort(key=lambda inc: (inc.boundary_ms, inc.first_event_ms, inc.incident_id))
    return done[comp], out
