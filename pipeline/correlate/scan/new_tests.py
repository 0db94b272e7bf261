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

import numpy as np

from ..lattice import Lattice
from .scale_counts import Rows

__all__ = ["entered_cells"]


def entered_cells(cell_id: np.ndarray, lattice: Lattice, entered: Rows) -> np.ndarray:
    """Per cell of ``cell_id`` (sorted), whether one of the events among ``entered`` (the rows
    of the last slide) lies in it. Vectorised over the slide's events, no loop per event."""
    cols, lo, hi = entered.cols, entered.lo, entered.hi
    events = (cols["severity"][lo:hi] > 0) & (cols["repeat"][lo:hi] == 0)
    x, y = cols["x"][lo:hi][events], cols["y"][lo:hi][events]
    if not len(x) or not len(cell_id):
        return np.zeros(len(cell_id), bool)
    # The slide's few event cells, sorted, looked up by each cell: what np.isin answers,
    # without its sort of both arrays together and its dozen calls (a quiet city asks at
    # every boundary an event enters).
    held = np.sort(lattice.cell_id(*lattice.index(x, y)))
    at = np.searchsorted(held, cell_id).clip(max=len(held) - 1)
    return held[at] == cell_id
