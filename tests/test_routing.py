"""Tile routing and ownership, shared by the live worker and the backfill."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geo.projection import LocalProjection
from pipeline.routing import TileRouting, tile_partition

PROJECTION = LocalProjection(30.25, 120.15)


def test_tile_partitions_are_pinned():
    """Changing the hash would move every tile, and its correlator state, to another partition
    on upgrade: the values are part of the contract."""
    ix, iy = np.array([0, 1, -1, 5, -7, 123]), np.array([0, 2, 3, -4, -1, 77])
    assert tile_partition(ix, iy, 4).tolist() == [0, 3, 2, 1, 0, 0]
    assert tile_partition(ix, iy, 7).tolist() == [0, 2, 5, 6, 6, 4]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), partitions=st.integers(1, 6))
def test_every_primary_row_lands_in_the_partition_that_owns_it(seed, partitions):
    rng = np.random.default_rng(seed)
    lat = 30.25 + rng.uniform(-0.1, 0.1, 300)
    lon = 120.15 + rng.uniform(-0.1, 0.1, 300)
    routing = TileRouting(PROJECTION, 4000.0, 800.0, partitions)
    routed = routing.route(lat, lon)
    own = ~routed.halo
    for p in range(partitions):
        owned_rows = np.flatnonzero(routing.owns(p, lat, lon))
        assert np.array_equal(np.sort(routed.row[own & (routed.partition == p)]), owned_rows)


def test_every_alert_has_one_own_row_and_halo_copies_only_in_other_partitions():
    rng = np.random.default_rng(3)
    lat = 30.25 + rng.uniform(-0.1, 0.1, 2000)
    lon = 120.15 + rng.uniform(-0.1, 0.1, 2000)
    routing = TileRouting(PROJECTION, 4000.0, 800.0, 4)
    routed = routing.route(lat, lon)
    own = ~routed.halo
    assert np.array_equal(np.sort(routed.row[own]), np.arange(2000))
    pairs = set(zip(routed.row.tolist(), routed.partition.tolist(), strict=True))
    assert len(pairs) == len(routed.row)  # no partition gets one alert twice
    # an alert's own partition owns it, and no other partition does
    for p in range(4):
        assert np.array_equal(
            routing.owns(p, lat, lon),
            tile_partition(*[np.floor(c / 4000.0) for c in PROJECTION.to_xy(lat, lon)], 4) == p,
        )
    owner = routed.partition[own][np.argsort(routed.row[own])]
    for p in range(4):
        assert np.array_equal(routing.owns(p, lat, lon), owner == p)


def test_owned_keeps_items_centred_in_the_partitions_tiles():
    from types import SimpleNamespace

    routing = TileRouting(PROJECTION, 4000.0, 800.0, 3)
    items = [SimpleNamespace(lat=30.25 + d, lon=120.15 + d) for d in np.linspace(-0.1, 0.1, 40)]
    kept = [routing.owned(p, items) for p in range(3)]
    assert sorted(map(id, sum(kept, []))) == sorted(map(id, items))
    assert routing.owned(0, []) == []
