"""A baseline fitted from a history period: a rate per cell and hour of week, and a dispersion.

The city-wide multiplicative model of :class:`~pipeline.correlate.baseline.Baseline` misses
places whose day differs from the city's (a shopping street peaks in the evening, an office
block at noon), so here each cell gets its own hour-of-day shape, shrunk where data is thin:

* ``level(c) = (N_c + k_L) / (H + k_L / city_rate)``: the cell's mean rate, a gamma-Poisson
  posterior pulled towards the city-wide rate of the history by ``k_L`` pseudo-events;
* ``r(c, d) = (N_{c,d} + k_D) / (E_d + k_D / (level(c) * P(d)))`` per local hour of day ``d``,
  pulled towards the level times the city's hour-of-day profile ``P`` by ``k_D`` pseudo-events.
  Prior strength in events (not hours) means a busy cell's hundreds of events decide its own
  evening peak, while a cell with two events keeps mostly the city's shape;
* ``rate(c, w) = r(c, hod(w)) * P(w) / P(hod(w))``: the city's day-of-week modulation on top
  (flat unless the history spans weeks that differ by weekday).

Cells never seen in history get ``level = k_L / (H + k_L / city_rate)`` times the profile.

The same model is fitted per scoring radius on whole disks (:func:`fit_disks`, see
:mod:`pipeline.correlate.baseline.disks`): scoring takes a disk's expected count from there
when it is present (``CellHourBaseline.disks``), and from the per-cell rates otherwise.

``dispersion`` is the negative-binomial ``alpha`` (``Var = mu + alpha * mu**2``) of window
counts in ``hotspot_radius_m`` disks, estimated out of sample: each history day's disk counts
are compared with the disk baseline fitted on the other days (method of moments), so it covers
both the data's own extra-Poisson variation and the error of a fitted rate.
"""

from __future__ import annotations

import numpy as np

from pipeline.alerts import AlertBatch
from pipeline.geo.projection import LocalProjection

from ..lattice import Lattice
from ..params import CorrelationParams
from ..window.buffer import alert_keys
from ..window.bursts import collapse_bursts
from .disks import disk_km2, disk_members
from .model import HOURS_PER_WEEK, Baseline, hour_of_week

__all__ = [
    "CellHourBaseline",
    "counted_events",
    "fit_cell_hours",
    "fit_disks",
    "estimate_dispersion",
    "dispersion_moments",
]

_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000


class CellHourBaseline(Baseline):
    """A :class:`Baseline` with a fitted rate per known cell and hour of week.

    The table is configuration, not learned state: it does not learn from the stream (refit it
    from the warehouse instead), and a snapshot restores into a baseline built with the same
    table. ``table`` is ``(len(table_ids), 168)`` alerts per hour per km².
    """

    def __init__(
        self,
        cell_km2: float,
        fallback: np.ndarray,
        table_ids: np.ndarray,
        table: np.ndarray,
        *,
        dispersion: float = 0.0,
        disks: dict[float, CellHourBaseline] | None = None,
    ) -> None:
        fallback = np.asarray(fallback, np.float64)
        if fallback.shape != (HOURS_PER_WEEK,) or not (fallback > 0).all():
            raise ValueError("fallback must hold 168 positive rates, Monday 00:00 first")
        super().__init__(
            cell_km2,
            float(fallback.mean()),
            profile=fallback / fallback.mean(),
            learn=False,
            dispersion=dispersion,
        )
        order = np.argsort(table_ids)
        self._table_ids = np.asarray(table_ids, np.int64)[order]
        self._table = np.asarray(table, np.float64)[order]
        if self._table.shape != (len(self._table_ids), HOURS_PER_WEEK):
            raise ValueError("table must be (len(table_ids), 168)")
        #: Per scoring radius (m), a baseline of whole disks keyed by their centre cell, in
        #: alerts per hour per km² of disk (see :mod:`pipeline.correlate.baseline.disks`).
        self.disks = dict(disks or {})

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(cell_ids, rates, fallback)``: the fitted table (``(n, 168)`` alerts per hour per
        km²) and the 168 rates of cells never seen; what it takes to store and rebuild it."""
        return self._table_ids, self._table, self.prior_rate * self.profile

    def disk_rates(self, cell_ids: np.ndarray, hour_of_week: int, radius_m: float):
        disk = self.disks.get(float(radius_m))
        return None if disk is None else disk.expected(cell_ids, hour_of_week)

    def levels(self, cell_ids: np.ndarray) -> None:
        return None  # a rate per cell and hour: no level times profile

    def expected(self, cell_ids: np.ndarray, hour_of_week: int) -> np.ndarray:
        cell_ids = np.asarray(cell_ids, dtype=np.int64)
        out = np.full(len(cell_ids), self.prior_rate * self.profile[hour_of_week])
        if len(self._table_ids):
            pos = np.minimum(np.searchsorted(self._table_ids, cell_ids), len(self._table_ids) - 1)
            known = self._table_ids[pos] == cell_ids
            out[known] = self._table[pos[known], hour_of_week]
        return out


def counted_events(
    alerts: AlertBatch, projection: LocalProjection, params: CorrelationParams
) -> dict[str, np.ndarray]:
    """What scoring counts, for a whole history: severity > 0, bursts collapsed, canonical
    order (event time, then key). Columns ``x, y, event_ms, source, category, severity``."""
    keep = alerts.severity > 0
    a = alerts.take(keep)
    keys = alert_keys(a.alert_id)
    order = np.lexsort((keys, a.event_ms))
    x, y = projection.to_xy(a.lat[order], a.lon[order])
    rows = {
        "x": x,
        "y": y,
        "event_ms": a.event_ms[order],
        "source": a.source[order],
        "category": a.category[order],
        "severity": a.severity[order],
    }
    return collapse_bursts(rows, params.burst_radius_m, params.burst_gap_ms)


def _exposure(start_ms: int, end_ms: int, utc_offset_min: int) -> np.ndarray:
    """Hours of ``[start_ms, end_ms)`` in each hour of week."""
    starts = np.arange(start_ms - start_ms % _HOUR_MS, end_ms, _HOUR_MS)
    overlap = np.minimum(starts + _HOUR_MS, end_ms) - np.maximum(starts, start_ms)
    return np.bincount(
        hour_of_week(starts, utc_offset_min), weights=overlap / _HOUR_MS, minlength=HOURS_PER_WEEK
    )


def _hod_sum(per_how: np.ndarray) -> np.ndarray:
    """Sum over the seven days: ``(..., 168)`` -> ``(..., 24)``."""
    return per_how.reshape(*per_how.shape[:-1], 7, 24).sum(axis=-2)


def fit_cell_hours(
    cell_ids: np.ndarray,
    event_ms: np.ndarray,
    start_ms: int,
    end_ms: int,
    cell_km2: float,
    *,
    utc_offset_min: int,
    level_prior_events: float = 2.0,
    hod_prior_events: float = 3.0,
    dispersion: float = 0.0,
    fill_unseen_hours: bool = False,
) -> CellHourBaseline:
    """Fit the model of the module docstring from counted events of ``[start_ms, end_ms)``;
    ``fill_unseen_hours``: see :func:`_weekday`."""
    if end_ms <= start_ms:
        raise ValueError("history must span some time: end_ms > start_ms")
    return _fit(
        np.asarray(cell_ids, np.int64),
        np.asarray(event_ms, np.int64),
        _exposure(start_ms, end_ms, utc_offset_min),
        cell_km2,
        utc_offset_min=utc_offset_min,
        level_prior_events=level_prior_events,
        hod_prior_events=hod_prior_events,
        dispersion=dispersion,
        fill_unseen_hours=fill_unseen_hours,
    )


def fit_disks(
    x: np.ndarray,
    y: np.ndarray,
    event_ms: np.ndarray,
    start_ms: int,
    end_ms: int,
    lattice: Lattice,
    radii_m: tuple[float, ...],
    *,
    utc_offset_min: int,
    level_prior_events: float = 2.0,
    hod_prior_events: float = 3.0,
    fill_unseen_hours: bool = False,
) -> dict[float, CellHourBaseline]:
    """Per radius, the model of the module docstring fitted on whole-disk counts: each event
    counts for every cell whose centre lies within the radius (:mod:`.disks`)."""
    if end_ms <= start_ms:
        raise ValueError("history must span some time: end_ms > start_ms")
    exposure = _exposure(start_ms, end_ms, utc_offset_min)
    out = {}
    for r in radii_m:  # loop per scoring radius: two by default
        point, cell = disk_members(x, y, lattice, r)
        out[float(r)] = _fit(
            cell,
            np.asarray(event_ms, np.int64)[point],
            exposure,
            disk_km2(r),
            utc_offset_min=utc_offset_min,
            level_prior_events=level_prior_events,
            hod_prior_events=hod_prior_events,
            dispersion=0.0,
            fill_unseen_hours=fill_unseen_hours,
        )
    return out


def _shrunk(counts: np.ndarray, hours: np.ndarray, prior_rate: np.ndarray, events: float):
    """Gamma-Poisson posterior mean rate: a gamma prior with mean ``prior_rate`` worth
    ``events`` pseudo-events, so a busy cell's own data dominate and a quiet one's prior."""
    return (counts + events) / (hours + events / prior_rate)


def _fit(
    cell_ids: np.ndarray,
    event_ms: np.ndarray,
    exposure: np.ndarray,
    cell_km2: float,
    *,
    utc_offset_min: int,
    level_prior_events: float,
    hod_prior_events: float,
    dispersion: float,
    fill_unseen_hours: bool = False,
) -> CellHourBaseline:
    ids, inverse = np.unique(cell_ids, return_inverse=True)
    counts = np.zeros((len(ids), HOURS_PER_WEEK))  # events per cell (not yet per km²)
    np.add.at(counts, (inverse, hour_of_week(event_ms, utc_offset_min)), 1.0)
    n_cells = max(len(ids), 1)
    # City rate per cell-hour of the cells with history, per hour of week, with one event of
    # pseudo-data at the mean: an hour never seen (or seen empty) still gets a rate > 0, and a
    # seen hour's thousands of events are not diluted.
    cell_hours = n_cells * exposure
    city_rate = (counts.sum() + 1.0) / cell_hours.sum()
    city = (counts.sum(axis=0) + 1.0) / (cell_hours + 1.0 / city_rate)
    hod_exposure = _hod_sum(exposure)
    hod_city = _hod_sum(city * (cell_hours + 1.0 / city_rate)) / _hod_sum(
        cell_hours + 1.0 / city_rate
    )
    shape = hod_city / city_rate  # the city's hour-of-day profile, mean 1 over exposure
    weekday = _weekday(city, hod_city, exposure, fill_unseen_hours)
    level = _shrunk(counts.sum(axis=1), exposure.sum(), city_rate, level_prior_events)
    hod = _shrunk(_hod_sum(counts), hod_exposure, level[:, None] * shape[None, :], hod_prior_events)
    table = hod[:, np.arange(HOURS_PER_WEEK) % 24] * weekday[None, :]
    unseen = _shrunk(0.0, exposure.sum(), city_rate, level_prior_events)
    fallback = unseen * np.tile(shape, 7) * weekday
    return CellHourBaseline(
        cell_km2, fallback / cell_km2, ids, table / cell_km2, dispersion=dispersion
    )


def _weekday(city, hod_city, exposure, fill_unseen_hours: bool) -> np.ndarray:
    """Day-of-week modulation of each hour of week: the city's rate there over its rate at that
    hour of day. An hour of week the history never saw has ``city`` at the prior, the city's
    mean rate, so the modulation undoes the hour-of-day shape and the fitted rate is flat
    there: 7 days of history cut to whole local days miss one weekday, the weekday a day
    evaluated right after the history falls on (issue 23 item 3: the detection benchmark's
    quiet days got 0.43 of the night's counts and 1.59 of the evening's). With
    ``fill_unseen_hours`` those hours take modulation 1: the hour-of-day shape alone."""
    weekday = city / np.tile(hod_city, 7)
    if fill_unseen_hours:
        weekday[exposure <= 0] = 1.0
    return weekday


def estimate_dispersion(
    rows: dict[str, np.ndarray],
    start_ms: int,
    end_ms: int,
    lattice: Lattice,
    params: CorrelationParams,
) -> float:
    """NB2 ``alpha`` of disk counts in tiled windows, each day held out in turn (see module),
    at the widest scale, ``window_s`` x ``hotspot_radius_m``, and used at every scale scored.

    Estimated at the small scales where flags open, it comes out lower (5 min x 250 m: 0.08
    against 0.116 on a week's history) and the false flags double (benchmarks/README.md,
    "Issue 23, item 3: dispersion per scale"), so the widest scale stays.

    Needs at least two whole days of history; returns 0 (Poisson) otherwise, and 0 where the
    moments say the counts vary less than Poisson (a negative estimate is clipped).
    """
    scale = (params.window_s, float(params.hotspot_radius_m))
    num, den = dispersion_moments(rows, start_ms, end_ms, lattice, params, [scale])[scale]
    return max(num / den, 0.0) if den > 0 else 0.0


def dispersion_moments(
    rows: dict[str, np.ndarray],
    start_ms: int,
    end_ms: int,
    lattice: Lattice,
    params: CorrelationParams,
    scales: list[tuple[int, float]],
) -> dict[tuple[int, float], tuple[float, float]]:
    """Per ``(window_s, radius_m)``, the method-of-moments sums ``(sum((n - mu)^2 - n),
    sum(mu^2))`` over tiled windows of each held-out day; ``alpha = num / den`` unclipped
    (negative: less variance than Poisson). Empty or shorter than two days: ``(0, 0)``."""
    days = (end_ms - start_ms) // _DAY_MS
    out = {(int(w), float(r)): (0.0, 0.0) for w, r in scales}
    if days < 2 or not len(rows["x"]):
        return out
    ix, iy = lattice.index(rows["x"], rows["y"])
    x0, y0 = ix.min(), iy.min()
    shape = (int(ix.max() - x0 + 1), int(iy.max() - y0 + 1))
    grid = np.meshgrid(np.arange(x0, x0 + shape[0]), np.arange(y0, y0 + shape[1]), indexing="ij")
    grid_ids = lattice.cell_id(*[a.ravel() for a in grid])
    for radius in sorted({r for _, r in out}):  # loop per radius measured: one by default
        windows = [w for w, r in out if r == radius]
        sums = _held_out_sums(rows, (start_ms, end_ms, days), lattice, params, radius, windows,
                              (x0, y0, shape, grid_ids))  # fmt: skip
        out.update({(w, radius): sums[w] for w in windows})
    return out


def _held_out_sums(rows, span, lattice, params, radius, windows, grid):
    """The moment sums of :func:`dispersion_moments` at one radius, per window length."""
    start_ms, end_ms, days = span
    x0, y0, shape, grid_ids = grid
    point, disk = disk_members(rows["x"], rows["y"], lattice, radius)
    dix, diy = lattice.unpack(disk)
    on_grid = (dix >= x0) & (dix < x0 + shape[0]) & (diy >= y0) & (diy < y0 + shape[1])
    t = rows["event_ms"]
    sums = {w: [0.0, 0.0] for w in windows}
    full = _exposure(start_ms, end_ms, params.utc_offset_min)
    fit = {
        "level_prior_events": 2.0,
        "hod_prior_events": 3.0,
        "dispersion": 0.0,
        "fill_unseen_hours": params.fill_unseen_hours,
    }
    for d in range(days):  # loop per held-out day
        lo, hi = start_ms + d * _DAY_MS, start_ms + (d + 1) * _DAY_MS
        test = (t[point] >= lo) & (t[point] < hi)
        # The held-out day is absent from training, not quiet: remove its exposure too.
        exposure = full - _exposure(lo, hi, params.utc_offset_min)
        train = _fit(
            disk[~test],
            t[point[~test]],
            exposure,
            disk_km2(radius),
            utc_offset_min=params.utc_offset_min,
            **fit,
        )
        sel = test & on_grid
        for w in windows:  # loop per window length: three at most
            win = w * 1000
            n_win = (hi - lo) // win
            k = ((t[point[sel]] - lo) // win).astype(np.int64)
            n = np.zeros((n_win, *shape))
            np.add.at(n, (k, dix[sel] - x0, diy[sel] - y0), 1.0)
            # one rate map per distinct hour of week (24 a day), not one per window
            hows, inverse = np.unique(
                hour_of_week(lo + np.arange(n_win) * win, params.utc_offset_min),
                return_inverse=True,
            )
            maps = np.stack([train.expected(grid_ids, int(h)).reshape(shape) for h in hows])
            rate = maps[inverse]
            mu = rate * disk_km2(radius) * win / _HOUR_MS
            sums[w][0] += float(((n - mu) ** 2 - n).sum())
            sums[w][1] += float((mu**2).sum())
    return {w: (a, b) for w, (a, b) in sums.items()}
