"""Gi* evaluated at a few lattice cells equals, bit for bit, Gi* of the whole lattice there."""

import numpy as np
import pytest

from pipeline.correlate.getis_ord import gi_star_lattice, gi_star_lattice_at
from pipeline.correlate.lattice import Lattice


@pytest.mark.parametrize("seed", range(8))
def test_gi_star_at_cells_is_bitwise_the_whole_lattice_at_them(seed):
    rng = np.random.default_rng(seed)
    grid = rng.poisson(0.3, (int(rng.integers(1, 40)), int(rng.integers(1, 40)))).astype(float)
    offsets = Lattice(250.0).disk_offsets(float(rng.choice([250.0, 500.0, 750.0])))
    qx = rng.integers(0, grid.shape[0], 25)
    qy = rng.integers(0, grid.shape[1], 25)
    whole = gi_star_lattice(grid, offsets)[qx, qy]
    assert np.array_equal(gi_star_lattice_at(grid, offsets, qx, qy), whole, equal_nan=True)


def test_query_cells_outside_the_grid_are_rejected():
    with pytest.raises(ValueError, match="inside counts"):
        gi_star_lattice_at(np.zeros((3, 3)), np.array([[1, 0]]), np.array([3]), np.array([0]))


def test_an_all_zero_grid_gives_nan_not_a_division_error():
    """Regression: Numba raised ZeroDivisionError (V = 0 / 0) when every count was zero."""
    offsets = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    z = gi_star_lattice_at(np.zeros((3, 4)), offsets, np.array([0, 2]), np.array([1, 3]))
    assert np.isnan(z).all()
    assert np.isnan(gi_star_lattice(np.zeros((3, 4)), offsets)).all()
