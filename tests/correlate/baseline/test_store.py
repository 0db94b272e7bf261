"""Baselines fitted from the warehouse: stored, the newest one loaded, thin cells shrunk
toward their district."""

from __future__ import annotations

import numpy as np

from pipeline.correlate import Baseline
from pipeline.correlate.baseline.district_fit import CellRates, fit_by_district
from pipeline.correlate.baseline.history import CellHourBaseline, counted_events, fit_cell_hours
from pipeline.correlate.baseline.store import (
    baselines_from,
    fit_history,
    history_alerts,
    newest_baseline,
    store_fit,
)
from pipeline.correlate.lattice import Lattice
from pipeline.geo.admin_units import load_registry
from pipeline.routing import city_projection
from pipeline.warehouse import open_warehouse

HOUR = 3_600_000


def span(wh) -> tuple[int, int]:
    lo, hi = wh.query(
        f"SELECT toUnixTimestamp64Milli(min(event_time)), "
        f"toUnixTimestamp64Milli(max(event_time)) FROM {wh.database}.alerts"
    )[0]
    return lo // HOUR * HOUR, (hi // HOUR + 1) * HOUR


def test_without_a_fit_the_engine_gets_the_learning_fallback(tmp_path):
    from pipeline.settings import Settings
    from pipeline.warehouse import migrate

    settings = Settings(data_dir=tmp_path)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        migrate(wh)
        baseline = newest_baseline(wh, settings)
    assert type(baseline) is Baseline and baseline.learn
    assert baseline.prior_rate == settings.baseline_prior_rate_km2_h


def test_partitions_sharing_one_read_get_their_own_learning_fallback(tmp_path):
    from pipeline.settings import Settings

    settings = Settings(data_dir=tmp_path)
    fallbacks = baselines_from(None, settings)
    first, second = fallbacks(), fallbacks()
    assert first is not second and first.learn and second.learn
    assert first.prior_rate == settings.baseline_prior_rate_km2_h

    fit = CellRates(0.04, np.array([7]), np.full((1, 168), 2.0), np.ones(168), 0.1, {})
    tables = baselines_from(fit, settings)
    one, other = tables(), tables()
    assert isinstance(one, CellHourBaseline) and not one.learn and one is not other
    assert one.expected(np.array([7]), 5)[0] == other.expected(np.array([7]), 5)[0] == 2.0


def test_the_newest_stored_fit_is_loaded_as_it_was_fitted(backfilled_city, city):
    settings, registry = backfilled_city, load_registry(city.registry)
    params = settings.correlation
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        since, until = span(wh)
        old, _ = fit_history(wh, registry, city_projection(registry), params, since, since + HOUR)
        store_fit(wh, old, params, since, since + HOUR)
        fit, n = fit_history(wh, registry, city_projection(registry), params, since, until)
        store_fit(wh, fit, params, since, until)
        loaded = newest_baseline(wh, settings)
    assert n > 7000 and isinstance(loaded, CellHourBaseline)
    assert len(fit.cell_ids) > len(old.cell_ids)
    hours = np.arange(168)
    got = np.stack([loaded.expected(fit.cell_ids, h) for h in hours], axis=1)
    assert np.allclose(got, fit.rates, rtol=1e-12)
    unseen = Lattice(params.cell_m).cell_id(np.array([10**5]), np.array([10**5]))
    assert np.allclose([loaded.expected(unseen, h)[0] for h in hours], fit.fallback)
    assert loaded.dispersion == fit.dispersion
    # the whole-disk baselines scoring reads first come back too, per radius
    assert set(loaded.disks) == set(params.radii_m) == set(fit.disks)
    for r, disk in fit.disks.items():
        cells = disk.rows()[0]
        for h in (0, 40, 100):
            assert np.allclose(loaded.disk_rates(cells, h, r), disk.expected(cells, h), rtol=1e-12)
            assert np.allclose(loaded.disk_rates(unseen, h, r), disk.expected(unseen, h))


def test_thin_cells_are_shrunk_toward_their_district(backfilled_city, city):
    settings, registry = backfilled_city, load_registry(city.registry)
    params, projection = settings.correlation, city_projection(registry)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        since, until = span(wh)
        alerts = history_alerts(wh, since, until)
    by_district = fit_by_district(
        alerts, since, until, registry, projection, params, dispersion=False
    )
    rows = counted_events(alerts, projection, params)
    lattice = Lattice(params.cell_m)
    cells = lattice.cell_id(*lattice.index(rows["x"], rows["y"]))
    city_wide = fit_cell_hours(
        cells,
        rows["event_ms"],
        since,
        until,
        lattice.cell_km2,
        utc_offset_min=params.utc_offset_min,
    )
    ids, counts = np.unique(cells, return_counts=True)
    x, y = lattice.centre(*lattice.unpack(ids))
    grid = registry.locate(*projection.to_latlon(x, y))
    district = np.where(grid >= 0, registry.grid_district[np.maximum(grid, 0)], -1)
    per_district = {
        d: counts[district == d].sum() / (district == d).sum()
        for d in np.unique(district[district >= 0]).tolist()
    }
    busy, quiet = max(per_district, key=per_district.get), min(per_district, key=per_district.get)
    level = by_district.rates.mean(axis=1)
    city_level = np.stack(
        [city_wide.expected(by_district.cell_ids, h) for h in range(168)], axis=1
    ).mean(axis=1)
    where = {c: i for i, c in enumerate(by_district.cell_ids.tolist())}
    thin = counts == 1
    for d, sign in ((busy, 1), (quiet, -1)):
        pick = [where[c] for c in ids[thin & (district == d)].tolist()]
        assert pick, "each district has thin cells"
        assert np.all(sign * (level[pick] - city_level[pick]) > 0)
