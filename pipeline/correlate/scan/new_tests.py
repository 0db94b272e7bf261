"""Which cell tests of a boundary are new tests: multiple testing over time (issue 23, item 2).

The scan tests every cell that holds events at every slide boundary (one a minute), at scales
up to ``window_s`` (30 min) long. A cell's data at one boundary are the events in its disks;
at the next boundary they are the same events less those that left the windows, plus those
that entered in the slide between. When no event entered, the test is a re-test of the data
already tested (its counts can only fall), so counting it again as an independent chance of a
false flag, as the plain tally of cell tests did, overstated the multiple-testing burden about
28-fold on the detection benchmark's quiet day (1,021 chance flags a day claimed, 37 seen).

Here a test is *new* only at a boundary where an event (severity > 0, not a repeat) entered
the cell itself (its own lattice cell) in the last slide ``(b - slide_s, b]``. An event also
enters the disks of the cells around its own (about 3 within 250 m, 13 within 500 m), but their
tests share most of their data with its own cell's test, so they are not new chances either:
counted as new, the claim stayed 2.5 to 9 times what quiet days produce (see README,
"Multiple testing over time"). The number of new tests a day is then about the events a day
(events in one cell in one slide are one test), and:

* the tally behind ``cell_tests_per_day`` and the claimed false-flag rate counts new tests
  only (:mod:`.tally`);
* with ``min_recurrence_days`` set, a flag may open only at a new test of its cell, so every
  opening is one of the tests the claim counts: about ``p bar x effective tests`` chance
  flags (new tests times ``EFFECTIVE_PER_NEW_TEST``, measured).

Whether a test is new depends only on the event times and positions of the events in the
cell, not on batch cuts, restarts or the number of partitions (the partition owning a cell
holds all of its events).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pipeline.geo.kernels import CELL_OFFSET, pack_cell

from ..lattice import Lattice
from .scale_counts import Rows

__all__ = ["entered_cells"]


@numba.njit(cache=True, nogil=True)
def _entered(cell_id, x, y, severity, repeat, lo, hi, cell_m):
    """Per cell of ``cell_id``, whether an event of rows ``[lo, hi)`` lies in it; ``ok`` False
    (and no answer) where a cell index would not fit a cell id."""
    held = np.empty(hi - lo, np.int64)
    m = 0
    for i in range(lo, hi):
        if severity[i] > 0 and repeat[i] == 0:
            ix = np.int64(math.floor(x[i] / cell_m))  # as Lattice.index and cell_id
            iy = np.int64(math.floor(y[i] / cell_m))
            if abs(ix) >= CELL_OFFSET or abs(iy) >= CELL_OFFSET:
                return np.zeros(0, np.bool_), False
            held[m] = pack_cell(ix, iy)
            m += 1
    held = np.sort(held[:m])
    out = np.zeros(cell_id.shape[0], np.bool_)
    if m:
        for k in range(cell_id.shape[0]):
            j = np.searchsorted(held, cell_id[k])
            out[k] = j < m and held[j] == cell_id[k]
    return out, True


def entered_cells(cell_id: np.ndarray, lattice: Lattice, entered: Rows) -> np.ndarray:
    """Per cell of ``cell_id``, whether one of the events among ``entered`` (the rows of the
    last slide) lies in it: ``np.isin(cell_id, lattice.cell_id(*lattice.index(x, y)))`` over
    the events' ``x, y``, in one kernel call (a quiet city asks at every boundary an event
    enters, where a dozen NumPy calls on a few rows cost more than the answer)."""
    cols = entered.cols
    out, ok = _entered(
        np.asarray(cell_id, np.int64),
        np.asarray(cols["x"], np.float64),
        np.asarray(cols["y"], np.float64),
        cols["severity"],
        cols["repeat"],
        int(entered.lo),
        int(entered.hi),
        float(lattice.cell_m),
    )
    if not ok:
        raise ValueError("cell index out of range: are the coordinates in metres?")
    return out
