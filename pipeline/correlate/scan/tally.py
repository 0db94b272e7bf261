"""How many tests the scan really makes: boundaries each lattice cell was newly tested at.

A flag's p-value is already Bonferroni-corrected across the scales of its cell
(:mod:`pipeline.correlate.scan.scale_tests`), so the unit of multiple testing over space and
time is the *cell test*: one cell tested (at one scale or more) at one slide boundary, counted
only where it is a new test (an event entered the cell in the last slide, :mod:`.new_tests`):
a re-test of the same events is no new chance. The number of chance flags a p-value threshold
lets through is about that threshold times the effective tests (new tests times
:data:`EFFECTIVE_PER_NEW_TEST`); the recurrence interval of a flag is the other way round,
``1 / (p x effective tests per day)``.

The tally is kept per cell, not per correlator, because a partition's correlator also scores
the cells of its halo, which belong to a neighbouring partition: the caller counts only the
cells a partition owns (:meth:`CellTestTally.counts`, then the routing's ``owns``), so the
total does not depend on how many partitions the city is split into. Cells without a counted
alert are not tested (their p-value is 1 by construction) and are not counted.

Not part of a correlator's snapshot: it counts what this process tested.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CellTestTally", "EFFECTIVE_PER_NEW_TEST"]

#: Effective independent tests per new cell test (issue 23, items 1-2). A new test is a cell
#: tested at a boundary where an event entered it (:mod:`.new_tests`); its p-value is the best
#: of up to six nested scales times their number (Bonferroni), and the counts are discrete, so
#: P(p <= bar) under the null is well below the bar. Measured on four independent quiet days of
#: the detection benchmark city with a fitted baseline (about 71,000 new tests a day each):
#: chance flags reaching p <= 1e-3, 3e-4, 1e-4 and 3e-5 were 14.3, 7.0, 1.8 and 0.75 a day,
#: 0.20, 0.33, 0.25 and 0.35 times bar x new tests. 1/4 puts the claim within a factor of two
#: of each (README, "Multiple testing over time"). Since 2026-12-08 the Bonferroni is weighted
#: by window (same bound); chance flags at the default bars then ran at 0.66-0.75 of the claim.
EFFECTIVE_PER_NEW_TEST = 0.25

#: Tested cell ids are appended per boundary and folded into (cell, count) pairs once this many
#: are pending: a dense city tests a few thousand cells a boundary, so this folds every few
#: hundred boundaries and holds at most a few MB.
_FOLD_AT = 1_000_000


class CellTestTally:
    """Per lattice cell, the number of boundaries it was tested at."""

    def __init__(self) -> None:
        self._ids = np.empty(0, np.int64)
        self._counts = np.empty(0, np.int64)
        self._pending: list[np.ndarray] = []
        self._n_pending = 0

    def add(self, cell_ids: np.ndarray) -> None:
        """Count one test for each of ``cell_ids`` (the cells tested at one boundary)."""
        if len(cell_ids):
            self._pending.append(np.asarray(cell_ids, np.int64))
            self._n_pending += len(cell_ids)
            if self._n_pending >= _FOLD_AT:
                self._fold()

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell ids, tests) of every cell tested so far, ids ascending."""
        self._fold()
        return self._ids.copy(), self._counts.copy()

    @property
    def total(self) -> int:
        """Cell tests so far, every cell counted (halo cells included)."""
        return int(self._counts.sum()) + self._n_pending

    def _fold(self) -> None:
        if not self._pending:
            return
        ids = np.concatenate([self._ids, *self._pending])
        weights = np.concatenate([self._counts, np.ones(self._n_pending, np.int64)])
        self._ids, inverse = np.unique(ids, return_inverse=True)
        self._counts = np.bincount(inverse, weights=weights).astype(np.int64)
        self._pending, self._n_pending = [], 0
