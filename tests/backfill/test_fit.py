"""A replay's baseline fit is the fit ``hotspot baseline fit`` makes of the same period stored."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.backfill.fit import fit_replay, whole_local_days
from pipeline.correlate.baseline.store import fit_history
from pipeline.geo.admin_units import load_registry
from pipeline.routing import city_projection
from pipeline.warehouse import open_warehouse

HOUR = 3_600_000
DAY = 24 * HOUR


def test_a_replay_is_fitted_as_its_stored_alerts_are(backfilled_city, city):
    settings, registry = backfilled_city, load_registry(city.registry)
    params = settings.correlation
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        lo, hi = wh.query(
            f"SELECT toUnixTimestamp64Milli(min(event_time)), "
            f"toUnixTimestamp64Milli(max(event_time)) FROM {wh.database}.alerts"
        )[0]
        since, until = lo // HOUR * HOUR, (hi // HOUR + 1) * HOUR
        stored, n = fit_history(wh, registry, city_projection(registry), params, since, until)
    fitted, m = fit_replay(settings, registry, [city.replay], since, until)
    assert m == n > 7000
    assert np.array_equal(fitted.cell_ids, stored.cell_ids)
    assert np.array_equal(fitted.rates, stored.rates)
    assert np.array_equal(fitted.fallback, stored.fallback)
    assert fitted.dispersion == stored.dispersion
    assert set(fitted.disks) == set(stored.disks) == set(params.radii_m)
    for radius, disk in stored.disks.items():
        for got, want in zip(fitted.disks[radius].rows(), disk.rows(), strict=True):
            assert np.array_equal(got, want)


def test_without_a_period_a_replay_must_cover_a_whole_local_day(backfilled_city, city):
    with pytest.raises(ValueError, match="whole local day"):
        fit_replay(backfilled_city, load_registry(city.registry), [city.replay])


def test_whole_local_days_cut_partial_days_and_strays():
    offset = 480  # UTC+8: local midnight is 16:00 UTC
    midnight = 16 * HOUR
    events = np.concatenate(
        [
            np.linspace(midnight - 5 * HOUR, midnight + 2 * DAY + 3 * HOUR, 100_000),
            np.full(50, midnight - 9000 * DAY),  # strays from long ago (max age 0)
            [midnight + 40 * DAY],  # and one from the future
        ]
    ).astype(np.int64)
    assert whole_local_days(events, offset) == (midnight, midnight + 2 * DAY)
    with pytest.raises(ValueError, match="no alerts"):
        whole_local_days(np.empty(0, np.int64), offset)
