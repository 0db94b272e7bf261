"""crowding against a brute-force reference: the most counted events within the largest
radius of the centre of a lattice cell holding one (undecided alerts counted)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.window.quiet import CROWDED, crowding

CELL_M, RADIUS_M = 250.0, 500.0


def most_in_one_held_disk(x, y, held=None) -> int:
    """Brute force: the most points within RADIUS_M of the centre of a cell holding one (of
    the points ``held``, default all)."""
    held = np.ones(len(x), bool) if held is None else held
    if not held.any():
        return 0
    cx = (np.floor(x[held] / CELL_M) + 0.5) * CELL_M
    cy = (np.floor(y[held] / CELL_M) + 0.5) * CELL_M
    d2 = (x[None, :] - cx[:, None]) ** 2 + (y[None, :] - cy[:, None]) ** 2
    return int((d2 <= RADIUS_M * RADIUS_M).sum(axis=1).max())


def columns(x, y, severity, repeat):
    return {"x": x, "y": y, "severity": severity.astype(np.float32), "repeat": repeat}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 12), st.booleans())
def test_crowding_is_the_most_a_cell_holding_an_event_counts(seed, n, on_grid):
    rng = np.random.default_rng(seed)
    if on_grid:  # some events exactly a radius from a cell centre: "within" includes them
        x, y = rng.integers(-16, 16, n) * 62.5, rng.integers(-16, 16, n) * 62.5
    else:
        x, y = rng.uniform(-2000, 2000, n), rng.uniform(-2000, 2000, n)
    severity = np.where(rng.random(n) < 0.2, 0.0, 0.5)
    repeat = rng.choice(np.array([-1, 0, 1], np.int8), n)
    counted = (severity > 0) & (repeat != 1)
    most = crowding(columns(x, y, severity, repeat), 0, n, RADIUS_M, CELL_M)
    assert most == most_in_one_held_disk(x[counted], y[counted])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 12), st.integers(0, 12))
def test_crowding_from_a_row_is_the_most_a_cell_holding_one_of_its_events_counts(seed, n, k):
    """The engine's bound under the recurrence bar: the cells of the last slide's events
    (rows ``from_row:hi``) count every event of the window."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(-16, 16, n) * 62.5, rng.integers(-16, 16, n) * 62.5
    severity = np.where(rng.random(n) < 0.2, 0.0, 0.5)
    repeat = rng.choice(np.array([-1, 0, 1], np.int8), n)
    counted = (severity > 0) & (repeat != 1)
    from_row = min(k, n)
    held = counted & (np.arange(n) >= from_row)
    most = crowding(columns(x, y, severity, repeat), 0, n, RADIUS_M, CELL_M, from_row=from_row)
    assert most == most_in_one_held_disk(x[counted], y[counted], held[counted])


def test_an_event_exactly_the_radius_from_a_held_cell_centre_counts():
    # 125 m is the centre of cell 0, 625 m that of cell 2: the radius apart
    cols = columns(np.array([125.0, 625.0]), np.full(2, 125.0), np.ones(2), np.zeros(2, np.int8))
    assert crowding(cols, 0, 2, RADIUS_M, CELL_M) == 2
    cols["x"][:] = (124.999, 625.001)  # now each lies beyond the radius of the other cell
    assert crowding(cols, 0, 2, RADIUS_M, CELL_M) == 1


def test_a_busy_window_is_crowded_at_once():
    n = 65
    cols = columns(np.arange(n) * 5000.0, np.zeros(n), np.ones(n), np.zeros(n, np.int8))
    assert crowding(cols, 0, n, RADIUS_M, CELL_M, max_events=64) == CROWDED
    assert crowding(cols, 0, 64, RADIUS_M, CELL_M, max_events=64) == 1


def test_rows_out_of_range_are_refused():
    cols = columns(np.zeros(1), np.zeros(1), np.ones(1), np.zeros(1, np.int8))
    with pytest.raises(ValueError, match="from_row <= hi"):
        crowding(cols, 0, 2, RADIUS_M, CELL_M)
    with pytest.raises(ValueError, match="lo <= from_row"):
        crowding(cols, 1, 1, RADIUS_M, CELL_M, from_row=0)
