"""Gi* evaluated at a few lattice cells equals, bit for bit, Gi* of the whole lattice there."""

import numpy as np
import pytest

from pipeline.correlate.lattice import Lattice
from pipeline.correlate.scan.getis_ord import gi_star_cells, gi_star_lattice, gi_star_lattice_at


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


def rectangle_reference(cell_ix, cell_iy, counts, ix, iy, offsets, max_cells):
    """What scoring did in NumPy before gi_star_cells: the grid of the query cells'
    rectangle, the counts added at their cells, Gi* at the query cells."""
    x0, y0 = ix.min(), iy.min()
    shape = (int(ix.max() - x0 + 1), int(iy.max() - y0 + 1))
    if shape[0] * shape[1] > max_cells:
        return np.full(len(ix), np.nan)
    grid = np.zeros(shape)
    inside = (
        (cell_ix >= x0) & (cell_ix < x0 + shape[0]) & (cell_iy >= y0) & (cell_iy < y0 + shape[1])
    )
    np.add.at(grid, (cell_ix[inside] - x0, cell_iy[inside] - y0), counts[inside])
    return gi_star_lattice_at(grid, offsets, ix - x0, iy - y0)


@pytest.mark.parametrize("seed", range(30))
def test_gi_star_cells_equals_the_rectangle_built_in_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    span = int(rng.integers(1, 30))
    qx, qy = rng.integers(-span, span, n), rng.integers(-span, span, n)
    own = rng.random(n) < 0.7  # the cells holding events: some of the queried ones, unique
    cells = np.unique(np.stack([qx[own], qy[own]], axis=1), axis=0).reshape(-1, 2)
    counts = rng.integers(1, 9, len(cells)).astype(np.float64)
    offsets = Lattice(250.0).disk_offsets(float(rng.choice([250.0, 500.0])))
    max_cells = int(rng.choice([4, 400, 4_000_000]))
    got = gi_star_cells(cells[:, 0], cells[:, 1], counts, qx, qy, offsets, max_cells)
    want = rectangle_reference(cells[:, 0], cells[:, 1], counts, qx, qy, offsets, max_cells)
    assert np.array_equal(got, want, equal_nan=True)
