"""Baselines fitted from the warehouse's history, stored there, and loaded by the engine.

``hotspot baseline fit`` reads a period of stored alerts, fits a rate per lattice cell and
hour of week with thin cells shrunk toward their district
(:func:`~pipeline.correlate.baseline.district_fit.fit_by_district`), plus the whole-disk
baselines scoring reads first (:mod:`pipeline.correlate.baseline.disks`), and writes them to
the ``baselines`` and ``baseline_disks`` tables. Correlators (live and backfill) start from
:func:`newest_baseline`: the newest fit made with their lattice and calendar, or the city-wide
fallback rate while there is none. A backfill's partitions share one read of it
(:func:`baselines_from`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import numpy as np

from pipeline.alerts import CATEGORY_CODE, SOURCE_CODE, AlertBatch
from pipeline.geo.admin_units import AdminRegistry
from pipeline.geo.projection import LocalProjection
from pipeline.settings import Settings
from pipeline.warehouse import Warehouse

from ..params import CorrelationParams
from .disks import disk_km2
from .district_fit import CellRates, fit_by_district
from .history import CellHourBaseline
from .model import Baseline

__all__ = [
    "history_alerts",
    "fit_history",
    "store_fit",
    "newest_fit",
    "newest_baseline",
    "baselines_from",
    "prior_baseline",
    "FALLBACK_CELL",
]

#: ``cell_id`` of the row holding the rates of cells never seen in the history
FALLBACK_CELL = -1


def _codes(names: list[str], vocabulary: dict[str, int], dtype) -> np.ndarray:
    uniques, inverse = np.unique(np.array(names, dtype=object), return_inverse=True)
    known = np.array([vocabulary.get(u, vocabulary.get("other", 0)) for u in uniques], dtype)
    return known[inverse] if len(names) else np.empty(0, dtype)


def history_alerts(warehouse: Warehouse, since_ms: int, until_ms: int) -> AlertBatch:
    """Stored alerts with event time in ``[since_ms, until_ms)``, as a batch."""
    db = warehouse.database
    cols = warehouse.query_columns(
        f"SELECT alert_id, source, toUnixTimestamp64Milli(event_time) AS ms, lat, lon, "
        f"category, severity FROM {db}.alerts FINAL "
        f"WHERE event_time >= fromUnixTimestamp64Milli(toInt64({int(since_ms)}), 'UTC') "
        f"AND event_time < fromUnixTimestamp64Milli(toInt64({int(until_ms)}), 'UTC')"
    )
    n = len(cols["alert_id"])
    return AlertBatch(
        alert_id=np.array(cols["alert_id"], dtype=object),
        source=_codes(cols["source"], SOURCE_CODE, np.int8),
        event_ms=np.array(cols["ms"], dtype=np.int64),
        lat=np.array(cols["lat"], dtype=np.float64),
        lon=np.array(cols["lon"], dtype=np.float64),
        category=_codes(cols["category"], CATEGORY_CODE, np.int16),
        severity=np.array(cols["severity"], dtype=np.float32),
        grid=np.full(n, -1, np.int32),
    )


def fit_history(
    warehouse: Warehouse,
    registry: AdminRegistry,
    projection: LocalProjection,
    params: CorrelationParams,
    since_ms: int,
    until_ms: int,
) -> tuple[CellRates, int]:
    """The fit of a warehouse period, and how many stored alerts it read."""
    alerts = history_alerts(warehouse, since_ms, until_ms)
    return fit_by_district(alerts, since_ms, until_ms, registry, projection, params), len(alerts)


def store_fit(
    warehouse: Warehouse,
    fit: CellRates,
    params: CorrelationParams,
    since_ms: int,
    until_ms: int,
) -> str:
    """Write a fit to ``baselines``; returns its id."""
    fit_id = uuid.uuid4().hex
    n = len(fit.cell_ids) + 1
    ms = np.array([time.time_ns() // 1_000_000, since_ms, until_ms]).astype("datetime64[ms]")
    for radius_m, disk in fit.disks.items():  # loop per scoring radius: two by default
        cells, rates, fallback = disk.rows()
        m = len(cells) + 1
        warehouse.insert(
            "baseline_disks",
            {
                "fit_id": [fit_id] * m,
                "radius_m": np.full(m, radius_m),
                "cell_id": np.append(cells, FALLBACK_CELL),
                "rates": [row.tolist() for row in rates] + [fallback.tolist()],
            },
        )
    warehouse.insert(
        "baselines",
        {
            "fit_id": [fit_id] * n,
            "fitted_time": np.full(n, ms[0]),
            "start_time": np.full(n, ms[1]),
            "end_time": np.full(n, ms[2]),
            "cell_m": np.full(n, params.cell_m),
            "utc_offset_min": np.full(n, params.utc_offset_min, np.int32),
            "dispersion": np.full(n, fit.dispersion),
            "cell_id": np.append(np.asarray(fit.cell_ids, np.int64), FALLBACK_CELL),
            "rates": [row.tolist() for row in fit.rates] + [np.asarray(fit.fallback).tolist()],
        },
    )
    return fit_id


def newest_fit(warehouse: Warehouse, settings: Settings) -> CellRates | None:
    """The newest stored fit for the settings' lattice and calendar, or None while there is
    none."""
    params = settings.correlation
    db = warehouse.database
    newest = warehouse.query(
        f"SELECT fit_id FROM {db}.baselines WHERE cell_m = {float(params.cell_m)} "
        f"AND utc_offset_min = {int(params.utc_offset_min)} "
        f"ORDER BY fitted_time DESC, fit_id DESC LIMIT 1"
    )
    if not newest:
        return None
    cols = warehouse.query_columns(
        f"SELECT cell_id, rates, dispersion FROM {db}.baselines FINAL "
        f"WHERE fit_id = '{newest[0][0]}' ORDER BY cell_id"
    )
    cells, rates, fallback = _table(cols)
    return CellRates(
        (params.cell_m / 1000.0) ** 2,
        cells,
        rates,
        fallback,
        float(cols["dispersion"][0]),
        _stored_disks(warehouse, newest[0][0]),
    )


def newest_baseline(warehouse: Warehouse, settings: Settings) -> Baseline:
    """The newest stored fit for the settings' lattice and calendar; else the city-wide
    fallback (``baseline_prior_rate_km2_h``), learning from the stream."""
    return baselines_from(newest_fit(warehouse, settings), settings)()


def baselines_from(fit: CellRates | None, settings: Settings) -> Callable[[], Baseline]:
    """A fresh baseline per call from one fit (or the fallback while there is none): what the
    partitions of one backfill start from, with the warehouse read once. A fitted table is
    configuration and may be shared; the fallback learns from its partition's stream, so each
    call makes a new one."""
    if fit is None:
        return lambda: prior_baseline(settings)
    return fit.baseline


def prior_baseline(settings: Settings) -> Baseline:
    """What a deployment starts from before any fit: the city-wide fallback at
    ``baseline_prior_rate_km2_h``, learning from the stream."""
    return Baseline((settings.correlation.cell_m / 1000.0) ** 2, settings.baseline_prior_rate_km2_h)


def _table(cols: dict[str, list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored rows as ``(cell_ids, rates, fallback)``; the fallback is the FALLBACK_CELL row."""
    cells = np.array(cols["cell_id"], dtype=np.int64)
    rates = np.array(cols["rates"], dtype=np.float64).reshape(len(cells), -1)
    fallback = cells == FALLBACK_CELL
    return cells[~fallback], rates[~fallback], rates[fallback][0]


def _stored_disks(warehouse: Warehouse, fit_id: str) -> dict[float, CellHourBaseline]:
    db = warehouse.database
    cols = warehouse.query_columns(
        f"SELECT radius_m, cell_id, rates FROM {db}.baseline_disks FINAL "
        f"WHERE fit_id = '{fit_id}' ORDER BY radius_m, cell_id"
    )
    radius = np.array(cols["radius_m"], dtype=np.float64)
    disks = {}
    for r in np.unique(radius).tolist():  # loop per scoring radius
        mine = np.flatnonzero(radius == r)
        cells, rates, fallback = _table({k: [v[i] for i in mine] for k, v in cols.items()})
        disks[float(r)] = CellHourBaseline(disk_km2(r), fallback, cells, rates)
    return disks
