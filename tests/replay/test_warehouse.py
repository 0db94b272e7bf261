"""Replay from the warehouse: stored alerts become the envelope records the normalise stage
would publish, routed to their tiles' partitions with halo copies."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.envelope import decode_envelopes, read_envelopes
from pipeline.exceptions import ConfigurationError
from pipeline.geo.admin_units import load_registry
from pipeline.marks import MARK_KEY, split_marks
from pipeline.replay.warehouse import RECORD_SPAN_MS, stored_count, warehouse_chunks
from pipeline.routing import TileRouting, tile_partition
from pipeline.warehouse import open_warehouse


def test_stored_alerts_come_back_as_routed_envelopes(backfilled_city, city):
    settings = backfilled_city
    registry = load_registry(city.registry)
    routing = TileRouting.from_settings(settings, registry)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        db = wh.database
        lo, hi = wh.query(
            f"SELECT toUnixTimestamp64Milli(min(event_time)), "
            f"toUnixTimestamp64Milli(max(event_time)) FROM {db}.alerts"
        )[0]
        stored = wh.query_columns(
            f"SELECT alert_id, lat, lon, grid_code, station_id, caller, severity FROM {db}.alerts"
            f" FINAL WHERE source IN ('dispatch_110', 'camera') ORDER BY alert_id"
        )
        chunks = list(
            warehouse_chunks(
                wh,
                routing,
                "t.normalized",
                lo,
                hi + 1,
                ["dispatch_110", "camera"],
                chunk_records=1000,
            )
        )
        counted = stored_count(wh, lo, hi + 1, ["dispatch_110", "camera"])
        with pytest.raises(ConfigurationError, match="unknown feeds"):
            stored_count(wh, lo, hi, ["fax"])
    is_mark = np.concatenate([[k == MARK_KEY for k in c.key] for c in chunks])
    values = [v for c in chunks for v in c.values]
    marks = split_marks([k for c in chunks for k in c.key], values, 4 * routing.partitions)[2]
    # after each chunk, every origin declares the chunk's last event time to every partition
    assert len(marks) == len(chunks) * 4 * routing.partitions**2
    assert marks.progress_ms[-1] == hi
    values = [v for v, m in zip(values, is_mark, strict=True) if not m]
    batch, bad = decode_envelopes(values, registry)
    own = ~batch.halo
    assert bad == []
    assert counted == len(stored["alert_id"]) == own.sum() > 1000
    assert sum(int(c.alerts.sum()) for c in chunks) == counted  # what progress counts
    whole = read_envelopes(values)
    envelopes = sorted((e for e, o in zip(whole, own, strict=True) if o), key=lambda e: e.alert_id)
    assert [e.alert_id for e in envelopes] == stored["alert_id"]
    assert [e.lat for e in envelopes] == stored["lat"]
    assert [e.grid or "" for e in envelopes] == stored["grid_code"]
    assert [e.station_id or "" for e in envelopes] == stored["station_id"]
    assert [e.caller or "" for e in envelopes] == stored["caller"]
    # a record is stamped with its first alert's time and covers RECORD_SPAN_MS at most
    stamps = np.concatenate([c.ts for c in chunks])[~is_mark][batch.record]
    assert np.all(batch.alerts.event_ms >= stamps)
    assert np.all(batch.alerts.event_ms < stamps + RECORD_SPAN_MS)
    for chunk in chunks:  # each partition's records in event-time order
        for p in np.unique(chunk.partition):
            assert np.all(np.diff(chunk.ts[chunk.partition == p]) >= 0)
    # every row sits in the partition of its tile, and its own tile's row is the primary
    partitions = np.concatenate([c.partition for c in chunks])[~is_mark][batch.record]
    expected = routing.route(batch.alerts.lat[own], batch.alerts.lon[own])
    for row, tile in enumerate(e.tile for e in whole):
        ix, iy = map(int, tile.split(":"))
        assert (
            routing.partitions
            > partitions[row]
            == tile_partition(np.array([ix]), np.array([iy]), routing.partitions)[0]
        )
    assert np.array_equal(np.sort(partitions[own]), np.sort(expected.partition[~expected.halo]))
