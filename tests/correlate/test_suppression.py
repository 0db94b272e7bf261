"""Greedy suppression kernel against a plain Python reference."""

import numpy as np
import pytest

from pipeline.correlate.suppression import suppress_near


def _reference(cx, cy, tx, ty, r):
    taken = list(zip(tx.tolist(), ty.tolist(), strict=True))
    chosen = []
    for k, here in enumerate(zip(cx.tolist(), cy.tolist(), strict=True)):
        if any((a - here[0]) ** 2 + (b - here[1]) ** 2 <= r**2 for a, b in taken):
            continue
        chosen.append(k)
        taken.append(here)
    return chosen


@pytest.mark.parametrize("seed", range(20))
def test_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(0, 300), rng.integers(0, 30)
    cx, cy = rng.integers(-40, 40, n), rng.integers(-40, 40, n)
    tx, ty = rng.integers(-40, 40, m), rng.integers(-40, 40, m)
    r = float(rng.choice([0.0, 1.0, 2.0, 2.5, 6.0]))
    assert suppress_near(cx, cy, tx, ty, r).tolist() == _reference(cx, cy, tx, ty, r)


def test_boundary_distance_is_suppressed():
    # (3, 4) is exactly 5 cells from the taken origin: within the radius, so suppressed.
    assert suppress_near(
        np.array([3, 6]), np.array([4, 0]), np.zeros(1), np.zeros(1), 5.0
    ).tolist() == [1]


def test_misaligned_arrays_are_rejected():
    with pytest.raises(ValueError, match="aligned"):
        suppress_near(np.zeros(2), np.zeros(3), np.zeros(0), np.zeros(0), 1.0)
