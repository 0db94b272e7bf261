"""Tile keys and halo copies: every alert reaches each tile whose area it is within halo_m of."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geo.tiles import halo_copies, tile_keys

TILE, HALO = 1000.0, 150.0


def brute_force(x: float, y: float) -> set[tuple[int, int, bool]]:
    """Tiles whose square lies within HALO of the point (own tile flagged not-halo)."""
    own = (int(np.floor(x / TILE)), int(np.floor(y / TILE)))
    out = set()
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            tx, ty = own[0] + dx, own[1] + dy
            gap_x = max(tx * TILE - x, 0.0, x - (tx + 1) * TILE)
            gap_y = max(ty * TILE - y, 0.0, y - (ty + 1) * TILE)
            if gap_x**2 + gap_y**2 <= HALO**2:
                out.add((tx, ty, (tx, ty) != own))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-5000, 5000), st.floats(-5000, 5000)), min_size=1, max_size=30))
def test_halo_copies_match_a_brute_force_reference(points):
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    row, ix, iy, halo = halo_copies(x, y, TILE, HALO)
    for i in range(len(points)):
        mine = row == i
        got = {
            (int(a), int(b), bool(h))
            for a, b, h in zip(ix[mine], iy[mine], halo[mine], strict=True)
        }
        assert got == brute_force(x[i], y[i])
        assert not halo[np.flatnonzero(row == i)[0]], "the own tile comes first"


def test_a_corner_point_reaches_the_three_neighbours_and_keys_are_ix_colon_iy():
    row, ix, iy, halo = halo_copies(np.array([995.0]), np.array([-3.0]), TILE, HALO)
    assert sorted(zip(ix.tolist(), iy.tolist(), strict=True)) == [(0, -1), (0, 0), (1, -1), (1, 0)]
    assert halo.tolist() == [False, True, True, True]
    assert tile_keys(np.array([0, -3]), np.array([12, 4])).tolist() == [b"0:12", b"-3:4"]


def test_a_halo_wider_than_half_a_tile_is_refused():
    with pytest.raises(ValueError, match="halo_m"):
        halo_copies(np.zeros(1), np.zeros(1), 1000.0, 600.0)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6)), max_size=40))
def test_tile_keys_format_every_tile(tiles):
    ix = np.array([t[0] for t in tiles], np.int64)
    iy = np.array([t[1] for t in tiles], np.int64)
    assert tile_keys(ix, iy).tolist() == [f"{x}:{y}".encode() for x, y in tiles]
