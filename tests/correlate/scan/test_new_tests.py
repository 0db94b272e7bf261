"""A cell's test is new only where an event entered the cell in the last slide."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.lattice import Lattice
from pipeline.correlate.scan.new_tests import entered_cells
from pipeline.correlate.scan.scale_counts import Rows

coords = st.floats(-2000, 2000, allow_nan=False)
LATTICE = Lattice(250.0)


def rows(x, y, severity, repeat, lo=0) -> Rows:
    n = len(x)
    cols = {
        "x": np.asarray(x, np.float64),
        "y": np.asarray(y, np.float64),
        "severity": np.asarray(severity, np.float64),
        "repeat": np.asarray(repeat, np.int8),
        "source": np.zeros(n, np.int8),
        "event_ms": np.arange(n, dtype=np.int64),
    }
    return Rows(cols, lo, n)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-8, 8), st.integers(-8, 8)), unique=True, max_size=30),
    st.lists(st.tuples(coords, coords, st.sampled_from([0.0, 0.5]), st.sampled_from([0, 1])),
             max_size=30),
    st.integers(0, 30),
)  # fmt: skip
def test_entered_is_the_brute_force_answer(cells, events, lo):
    cells = sorted(cells)
    ix = np.array([c[0] for c in cells], np.int64)
    iy = np.array([c[1] for c in cells], np.int64)
    cell_id = LATTICE.cell_id(ix, iy)
    order = np.argsort(cell_id)
    cell_id, ix, iy = cell_id[order], ix[order], iy[order]
    lo = min(lo, len(events))
    columns = [list(col) for col in zip(*events, strict=True)] if events else [[], [], [], []]
    got = entered_cells(cell_id, LATTICE, rows(*columns, lo=lo))
    want = [
        any(
            np.floor(ex / 250.0) == a and np.floor(ey / 250.0) == b and sev > 0 and rep == 0
            for ex, ey, sev, rep in events[lo:]
        )
        for a, b in zip(ix.tolist(), iy.tolist(), strict=True)
    ]
    assert got.tolist() == want


def test_a_repeat_or_a_zero_severity_alert_makes_no_test_new():
    cell_id = LATTICE.cell_id(np.array([0, 4]), np.array([0, 0]))
    quiet = rows([10.0, 20.0], [0.0, 0.0], [0.0, 0.7], [0, 1])
    assert entered_cells(cell_id, LATTICE, quiet).tolist() == [False, False]
    one = rows([10.0, 20.0, 1010.0], [0.0, 0.0, 0.0], [0.0, 0.7, 0.2], [0, 1, 0])
    assert entered_cells(cell_id, LATTICE, one).tolist() == [False, True]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-8, 8), st.integers(-8, 8)), max_size=30),
    st.lists(st.tuples(coords, coords, st.sampled_from([0.0, 0.5]), st.sampled_from([0, 1])),
             max_size=30),
    st.integers(0, 30),
)  # fmt: skip
def test_entered_is_the_numpy_isin_it_replaced(cells, events, lo):
    """The kernel answers what ``np.isin`` over the events' cell ids did, for cells in any
    order and repeated."""
    ix = np.array([c[0] for c in cells], np.int64)
    iy = np.array([c[1] for c in cells], np.int64)
    cell_id = LATTICE.cell_id(ix, iy)
    lo = min(lo, len(events))
    columns = [list(col) for col in zip(*events, strict=True)] if events else [[], [], [], []]
    entered = rows(*columns, lo=lo)
    c = entered.cols
    counted = (c["severity"][lo:] > 0) & (c["repeat"][lo:] == 0)
    held = LATTICE.cell_id(*LATTICE.index(c["x"][lo:][counted], c["y"][lo:][counted]))
    assert entered_cells(cell_id, LATTICE, entered).tolist() == np.isin(cell_id, held).tolist()


def test_coordinates_out_of_the_lattice_are_refused():
    far = rows([1e12], [0.0], [1.0], [0])
    with pytest.raises(ValueError, match="metres"):
        entered_cells(LATTICE.cell_id(np.array([0]), np.array([0])), LATTICE, far)
