"""Hot and cold cells per time step: the project's Gi* kernel on each step (equal to esda's
G_Local with the registry's queen neighbours), Benjamini-Hochberg within each step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import false_discovery_control

from pipeline.correlate.scan.getis_ord import gi_star
from pipeline.geo.admin_units import load_registry
from pipeline.geo.grid_registry import grid_registry
from pipeline.trends.neighbours import grid_neighbours
from pipeline.trends.space_time import hot_and_cold

REGISTRY = load_registry(grid_registry((31.20, 121.40, 31.236, 121.442), 500))  # 9 x 8 cells
INDPTR, INDICES = grid_neighbours(REGISTRY.grid_centroid_lat, REGISTRY.grid_centroid_lon)
N = len(REGISTRY.grids)


def counts(seed: int, steps: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.poisson(2.0, (steps, N)).astype(np.float64)
    c[:, [9, 10, 11, 17, 18, 19]] += rng.integers(10, 20, (steps, 1))  # a hot block of cells
    return c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_step_is_gi_star_then_bh_of_that_step_alone(seed):
    c = counts(seed)
    spots = hot_and_cold(c, INDPTR, INDICES, alpha=0.05)
    for k in range(c.shape[0]):
        z = gi_star(c[k], INDPTR, INDICES)
        np.testing.assert_array_equal(spots.z[k], z)
        q = false_discovery_control(2 * ndtr(-np.abs(z)), method="bh")
        np.testing.assert_allclose(spots.q[k], q, rtol=1e-12)
        np.testing.assert_array_equal(spots.hot[k], (q < 0.05) & (z > 0))
        np.testing.assert_array_equal(spots.cold[k], (q < 0.05) & (z < 0))
        # a step's result does not depend on the other steps of the window
        alone = hot_and_cold(c[[k]], INDPTR, INDICES, alpha=0.05)
        np.testing.assert_array_equal(alone.hot[0], spots.hot[k])
    assert spots.hot[:, 10].all()  # the planted cell is hot in every step


def test_gi_star_with_the_registry_neighbours_matches_esda():
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    neighbours = {
        i: INDICES[INDPTR[i] : INDPTR[i + 1]].tolist() for i in range(N)
    }  # the queen contiguity of the 9 x 8 grid
    w = libpysal.weights.W(neighbours, silence_warnings=True)
    y = counts(4)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = esda.G_Local(y, w, transform="B", star=True, permutations=0).Zs
    spots = hot_and_cold(y[None, :], INDPTR, INDICES, alpha=0.05)
    np.testing.assert_allclose(spots.z[0], expected, rtol=0, atol=1e-9)


def test_a_step_without_alerts_has_no_hot_or_cold_cell():
    c = counts(0, steps=3)
    c[1] = 0.0
    spots = hot_and_cold(c, INDPTR, INDICES, alpha=0.05)
    assert np.isnan(spots.z[1]).all() and (spots.q[1] == 1).all()
    assert not spots.hot[1].any() and not spots.cold[1].any()
    assert spots.hot[0].any() and spots.hot[2].any()


def test_a_stricter_rate_flags_a_subset():
    c = counts(7, steps=10)
    loose = hot_and_cold(c, INDPTR, INDICES, alpha=0.10)
    strict = hot_and_cold(c, INDPTR, INDICES, alpha=0.01)
    assert not (strict.hot & ~loose.hot).any() and not (strict.cold & ~loose.cold).any()
    assert strict.hot.sum() < loose.hot.sum() or strict.cold.sum() < loose.cold.sum()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-d numeric"):
        hot_and_cold(np.zeros(N), INDPTR, INDICES, alpha=0.05)
    with pytest.raises(ValueError, match="alpha"):
        hot_and_cold(np.zeros((2, N)), INDPTR, INDICES, alpha=1.5)
