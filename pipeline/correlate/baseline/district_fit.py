"""A cell-and-hour-of-week baseline whose thin cells are shrunk toward their district's rate.

:func:`~pipeline.correlate.baseline.history.fit_cell_hours` pulls a cell with little history
toward the rate of the whole history. Districts differ (a busy centre, quiet suburbs), so here each
district is fitted on its own: a cell's level is shrunk toward its district's rate and its
hour-of-day shape toward the district's shape. Cells are assigned to the district containing
their centre; cells outside every district are fitted with the whole city. Cells never seen in
history get the city-wide fallback, and the dispersion is estimated on the whole history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline.alerts import AlertBatch
from pipeline.geo.admin_units import AdminRegistry
from pipeline.geo.projection import LocalProjection

from ..lattice import Lattice
from ..params import CorrelationParams
from .history import (
    CellHourBaseline,
    counted_events,
    estimate_dispersion,
    fit_cell_hours,
    fit_disks,
)
from .model import HOURS_PER_WEEK

__all__ = ["CellRates", "fit_by_district", "rate_table"]


@dataclass(frozen=True)
class CellRates:
    """A fitted table: ``rates[i]`` are the 168 hour-of-week rates (alerts / h / km²) of
    ``cell_ids[i]``; ``fallback`` those of cells never seen."""

    cell_km2: float
    cell_ids: np.ndarray
    rates: np.ndarray
    fallback: np.ndarray
    dispersion: float
    #: per scoring radius (m), the whole-disk baselines (:func:`~.history.fit_disks`)
    disks: dict[float, CellHourBaseline] = field(default_factory=dict)

    def baseline(self) -> CellHourBaseline:
        return CellHourBaseline(
            self.cell_km2,
            self.fallback,
            self.cell_ids,
            self.rates,
            dispersion=self.dispersion,
            disks=self.disks,
        )


def rate_table(baseline: CellHourBaseline, cells: np.ndarray) -> np.ndarray:
    """``(len(cells), 168)`` expected rates (alerts / h / km²), Monday 00:00 first."""
    return np.stack([baseline.expected(cells, h) for h in range(HOURS_PER_WEEK)], axis=1)


def _cell_district(
    cells: np.ndarray, lattice: Lattice, projection: LocalProjection, registry: AdminRegistry
) -> np.ndarray:
    """District index of each cell's centre (-1 outside the grid)."""
    x, y = lattice.centre(*lattice.unpack(cells))
    lat, lon = projection.to_latlon(x, y)
    grid = registry.locate(lat, lon)
    return np.where(grid >= 0, registry.grid_district[np.maximum(grid, 0)], -1)


def fit_by_district(
    alerts: AlertBatch,
    start_ms: int,
    end_ms: int,
    registry: AdminRegistry,
    projection: LocalProjection,
    params: CorrelationParams,
    *,
    dispersion: bool = True,
    steps: Callable[[int, int], None] | None = None,
) -> CellRates:
    """Fit from the alerts of history ``[start_ms, end_ms)`` (see the module docstring).

    ``steps(done, total)``, when given, is called after each step: the city-wide fit, each
    district's, and the scoring disks' (a long fit shows its progress)."""
    if end_ms <= start_ms:
        raise ValueError("history must span some time: end_ms > start_ms")
    rows = counted_events(alerts, projection, params)
    inside = (rows["event_ms"] >= start_ms) & (rows["event_ms"] < end_ms)
    rows = {k: v[inside] for k, v in rows.items()}
    lattice = Lattice(params.cell_m)
    cells = lattice.cell_id(*lattice.index(rows["x"], rows["y"]))
    alpha = estimate_dispersion(rows, start_ms, end_ms, lattice, params) if dispersion else 0.0

    def fit(mask: np.ndarray) -> CellHourBaseline:
        return fit_cell_hours(
            cells[mask],
            rows["event_ms"][mask],
            start_ms,
            end_ms,
            lattice.cell_km2,
            utc_offset_min=params.utc_offset_min,
            dispersion=alpha,
            fill_unseen_hours=params.fill_unseen_hours,
        )

    city = fit(np.ones(len(cells), bool))
    district = _cell_district(cells, lattice, projection, registry)
    districts = np.unique(district).tolist()
    step = _Steps(steps, len(districts) + 2)
    step()
    ids, tables = [], []
    for d in districts:  # loop per district (a handful)
        part = city if d < 0 else fit(district == d)
        mine = np.unique(cells[district == d])
        ids.append(mine)
        tables.append(rate_table(part, mine))
        step()
    disks = fit_disks(
        rows["x"],
        rows["y"],
        rows["event_ms"],
        start_ms,
        end_ms,
        lattice,
        params.radii_m,
        utc_offset_min=params.utc_offset_min,
        fill_unseen_hours=params.fill_unseen_hours,
    )
    step()
    return CellRates(
        lattice.cell_km2,
        np.concatenate(ids) if ids else np.empty(0, np.int64),
        np.concatenate(tables) if tables else np.empty((0, HOURS_PER_WEEK)),
        city.prior_rate * city.profile,
        alpha,
        disks,
    )


class _Steps:
    """Counts the fit's steps for an optional ``steps(done, total)`` callback."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)
