"""Gi* against PySAL esda: its own test fixture, rook/queen lattices and random grids."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pipeline.correlate.scan.getis_ord import gi_star, gi_star_lattice

esda = pytest.importorskip("esda")
libpysal = pytest.importorskip("libpysal")

# esda/tests/test_getisord.py: the points, threshold and y of TestGLocal.
POINTS = np.array([(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)])
Y = np.array([2, 3, 3.2, 5, 8, 7])
# esda's documented G_Local(y, w, transform="B", star=True).Zs for that fixture.
ESDA_ZS = np.array([-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088, 2.02424331])


def csr(w) -> tuple[np.ndarray, np.ndarray]:
    """CSR neighbour lists (without self) of a libpysal W, in id order."""
    ids = w.id_order
    pos = {k: i for i, k in enumerate(ids)}
    lists = [[pos[j] for j in w.neighbors[k] if j != k] for k in ids]
    indptr = np.concatenate([[0], np.cumsum([len(n) for n in lists])])
    return indptr, np.array([j for n in lists for j in n], dtype=np.int64)


def esda_zs(y, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(y, w, transform="B", star=True, permutations=0).Zs


def test_esda_fixture():
    w = libpysal.weights.DistanceBand(POINTS, threshold=15, silence_warnings=True)
    z = gi_star(Y, *csr(w))
    np.testing.assert_allclose(z, ESDA_ZS, atol=1e-8)  # the published digits
    np.testing.assert_allclose(z, esda_zs(Y, w), rtol=0, atol=1e-9)
    assert z[0] == pytest.approx(-1.39727626, abs=1e-8)  # esda's test_star_binary


@pytest.mark.parametrize("rook", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lat2w_grids(rook, seed):
    rng = np.random.default_rng(seed)
    nrows, ncols = 7 + seed, 9
    w = libpysal.weights.lat2W(nrows, ncols, rook=rook)
    y = rng.poisson(3.0, nrows * ncols).astype(np.float64)
    np.testing.assert_allclose(gi_star(y, *csr(w)), esda_zs(y, w), rtol=0, atol=1e-9)


def test_lattice_version_matches_esda_with_disk_neighbours():
    rng = np.random.default_rng(5)
    counts = rng.poisson(1.5, (8, 6)).astype(np.float64)
    offsets = np.array(
        [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if dx * dx + dy * dy <= 4]
    )
    nx, ny = counts.shape
    neighbours = {
        ix * ny + iy: [
            (ix + dx) * ny + iy + dy
            for dx, dy in offsets
            if (dx, dy) != (0, 0) and 0 <= ix + dx < nx and 0 <= iy + dy < ny
        ]
        for ix in range(nx)
        for iy in range(ny)
    }
    w = libpysal.weights.W(neighbours, silence_warnings=True)
    expected = esda_zs(counts.ravel(), w).reshape(counts.shape)
    np.testing.assert_allclose(gi_star_lattice(counts, offsets), expected, rtol=0, atol=1e-9)


def test_constant_values_have_no_pattern():
    z = gi_star(np.ones(4), np.array([0, 1, 2, 3, 4]), np.array([1, 0, 3, 2]))
    assert np.isnan(z).all()


def test_self_in_neighbours_is_rejected():
    with pytest.raises(ValueError, match="itself"):
        gi_star(np.arange(2.0), np.array([0, 1, 1]), np.array([0]))
