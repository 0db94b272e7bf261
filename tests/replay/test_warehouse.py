"""Replay from the warehouse: stored alerts become the envelopes the normalise agent would
publish, routed to their tiles' partitions with halo copies."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.envelope import decode_envelopes, read_envelopes
from pipeline.exceptions import ConfigurationError
from pipeline.geo.admin_units import load_registry
from pipeline.replay.warehouse import stored_count, warehouse_chunks
from pipeline.routing import TileRouting
from pipeline.warehouse import open_warehouse


def test_stored_alerts_come_back_as_routed_envelopes(backfilled_city, city):
    settings = backfilled_city
    registry = load_registry(city.registry)
    routing = TileRouting.from_settings(settings, registry)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        db = wh.database
        lo, hi = wh.query(f"SELECT toUnixTimestamp64Milli(min(event_time)), "
                          f"toUnixTimestamp64Milli(max(event_time)) FROM {db}.alerts")[0]
        stored = wh.query_columns(
            f"SELECT alert_id, lat, lon, grid_code, station_id, caller, severity FROM {db}.alerts"
            f" FINAL WHERE source IN ('dispatch_110', 'camera') ORDER BY alert_id")
        chunks = list(warehouse_chunks(wh, routing, "t.normalized", lo, hi + 1,
                                       ["dispatch_110", "camera"], chunk_records=1000))
        counted = stored_count(wh, lo, hi + 1, ["dispatch_110", "camera"])
        with pytest.raises(ConfigurationError, match="unknown feeds"):
            stored_count(wh, lo, hi, ["fax"])
    values = [v for c in chunks for v in c.values]
    batch = decode_envelopes(values, registry)
    own = ~batch.halo
    assert counted == len(stored["alert_id"]) == own.sum() > 1000
    whole = read_envelopes(values)
    envelopes = sorted((e for e, o in zip(whole, own, strict=True) if o),
                       key=lambda e: e.alert_id)
    assert [e.alert_id for e in envelopes] == stored["alert_id"]
    assert [e.lat for e in envelopes] == stored["lat"]
    assert [e.grid or "" for e in envelopes] == stored["grid_code"]
    assert [e.station_id or "" for e in envelopes] == stored["station_id"]
    assert [e.caller or "" for e in envelopes] == stored["caller"]
    times = np.concatenate([c.ts for c in chunks])
    assert np.all(np.diff(times[own]) >= 0)  # event-time order
    partitions = np.concatenate([c.partition for c in chunks])
    expected = routing.route(batch.alerts.lat[own], batch.alerts.lon[own])
    assert np.array_equal(np.sort(partitions[own]), np.sort(expected.partition[~expected.halo]))
    assert all(e.tile == k for e, k in zip(whole, [k for c in chunks for k in c.key],
                                          strict=True))
