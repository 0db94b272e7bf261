"""quiet_window against a brute-force reference: no cell of the scoring lattice counts
min_count events within the largest radius."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.window.quiet import crowding, quiet_window

CELL_M, RADIUS_M = 250.0, 500.0


def most_in_one_disk(x, y) -> int:
    """Brute force: the most events within RADIUS_M of one cell centre of the lattice."""
    if not len(x):
        return 0
    ix = np.arange(np.floor(x.min() / CELL_M) - 3, np.floor(x.max() / CELL_M) + 4)
    iy = np.arange(np.floor(y.min() / CELL_M) - 3, np.floor(y.max() / CELL_M) + 4)
    cx, cy = np.meshgrid((ix + 0.5) * CELL_M, (iy + 0.5) * CELL_M)
    d2 = (cx.ravel()[:, None] - x) ** 2 + (cy.ravel()[:, None] - y) ** 2
    return int((d2 <= RADIUS_M**2).sum(axis=1).max())


def columns(x, y, severity, repeat):
    return {"x": x, "y": y, "severity": severity.astype(np.float32), "repeat": repeat}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 12), st.sampled_from([1, 2, 3]))
def test_a_quiet_window_has_no_cell_with_min_count_events(seed, n, min_count):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3000, 3000, n), rng.uniform(-3000, 3000, n)
    severity = np.where(rng.random(n) < 0.2, 0.0, 0.5)
    repeat = rng.choice(np.array([-1, 0, 1], np.int8), n)
    counted = (severity > 0) & (repeat != 1)
    quiet = quiet_window(columns(x, y, severity, repeat), 0, n, 2 * RADIUS_M + 1.0, min_count)
    if quiet:  # exact where it matters: a quiet window can never open a flag
        assert most_in_one_disk(x[counted], y[counted]) < min_count
    if counted.sum() < min_count:
        assert quiet


def test_two_events_apart_by_more_than_the_diameter_are_quiet_and_closer_are_not():
    for gap, quiet in ((1002.0, True), (999.0, False)):
        cols = columns(np.array([0.0, gap]), np.zeros(2), np.ones(2), np.zeros(2, np.int8))
        assert quiet_window(cols, 0, 2, 1001.0, 2) is quiet


def test_a_busy_window_is_never_called_quiet():
    n = 65
    cols = columns(np.arange(n) * 5000.0, np.zeros(n), np.ones(n), np.zeros(n, np.int8))
    assert not quiet_window(cols, 0, n, 1001.0, 2, max_events=64)
    assert quiet_window(cols, 0, 64, 1001.0, 2, max_events=64)


def test_rows_out_of_range_are_refused():
    cols = columns(np.zeros(1), np.zeros(1), np.ones(1), np.zeros(1, np.int8))
    with pytest.raises(ValueError, match="lo <= hi"):
        quiet_window(cols, 0, 2, 1001.0, 2)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 12))
def test_crowding_bounds_the_events_one_cell_counts(seed, n):
    """The bound the engine's calm boundaries rest on: no cell counts more events than it."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-2000, 2000, n), rng.uniform(-2000, 2000, n)
    severity = np.where(rng.random(n) < 0.2, 0.0, 0.5)
    repeat = rng.choice(np.array([-1, 0, 1], np.int8), n)
    counted = (severity > 0) & (repeat != 1)
    bound = crowding(columns(x, y, severity, repeat), 0, n, 2 * RADIUS_M + 1.0)
    assert most_in_one_disk(x[counted], y[counted]) <= bound <= counted.sum()
    assert (bound == 0) == (counted.sum() == 0)
