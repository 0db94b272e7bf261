"""Gi* neighbours of grid cells: the centres within a distance, against a brute-force check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.geo.admin_units import load_registry
from pipeline.geo.grid_registry import grid_registry
from pipeline.geo.projection import EARTH_RADIUS_M
from pipeline.trends.neighbours import grid_neighbours


def brute_force(lat, lon, distance_m):
    k = math.pi / 180 * EARTH_RADIUS_M
    x = (lon - lon.mean()) * k * math.cos(math.radians(lat.mean()))
    y = lat * k
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    near = (d <= distance_m) & ~np.eye(len(lat), dtype=bool)
    return [np.flatnonzero(row).tolist() for row in near]


@pytest.mark.parametrize("cell_m", [250, 500])
def test_the_default_is_the_eight_cells_around_a_square_cell(cell_m):
    reg = load_registry(grid_registry((31.20, 121.40, 31.22, 121.425), cell_m))
    lat, lon = reg.grid_centroid_lat, reg.grid_centroid_lon
    indptr, indices = grid_neighbours(lat, lon)
    lists = [indices[indptr[i] : indptr[i + 1]].tolist() for i in range(len(lat))]
    assert lists == brute_force(lat, lon, 1.5 * cell_m)
    assert max(np.diff(indptr)) == 8 and min(np.diff(indptr)) == 3  # inner cells, corners


def test_a_given_distance_is_used_as_is():
    rng = np.random.default_rng(3)
    lat = 31.2 + rng.uniform(0, 0.02, 60)
    lon = 121.4 + rng.uniform(0, 0.02, 60)
    indptr, indices = grid_neighbours(lat, lon, 700.0)
    lists = [indices[indptr[i] : indptr[i + 1]].tolist() for i in range(60)]
    assert lists == brute_force(lat, lon, 700.0)


def test_fewer_than_two_cells_have_no_neighbours():
    indptr, indices = grid_neighbours(np.array([31.2]), np.array([121.4]))
    assert indptr.tolist() == [0, 0] and len(indices) == 0
