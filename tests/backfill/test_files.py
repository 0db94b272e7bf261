"""Backfilling replay files: what the file-level driver adds to the engine."""

from __future__ import annotations

import numpy as np

from pipeline.backfill.files import looked_up_once
from pipeline.correlate.baseline.history import CellHourBaseline
from pipeline.correlate.baseline.model import Baseline


def test_the_newest_baseline_is_looked_up_once_and_each_partition_gets_its_own():
    """Four partitions, one warehouse lookup: each correlator's baseline is an equal, separate
    copy (one learning changes no other), fitted tables and their disks included."""
    calls = []

    def lookup() -> Baseline:
        calls.append(1)
        disk = CellHourBaseline(0.2, np.full(168, 0.5), np.array([3]), np.full((1, 168), 0.7))
        return CellHourBaseline(
            0.0625, np.full(168, 0.1), np.array([1, 2]), np.ones((2, 168)), disks={500.0: disk}
        )

    make = looked_up_once(lookup)
    made = [make() for _ in range(4)]
    assert len(calls) == 1
    assert len({id(b) for b in made}) == 4 and len({id(b.disks[500.0]) for b in made}) == 4
    for b in made[1:]:
        assert b.rows()[1].tobytes() == made[0].rows()[1].tobytes()
        assert (
            b.expected(np.array([1, 3]), 5).tolist()
            == made[0].expected(np.array([1, 3]), 5).tolist()
        )
    learning = looked_up_once(lambda: Baseline(0.0625, 0.05))
    a, b = learning(), learning()
    a.observe(np.array([7]), np.array([1.0]), 1 / 60)
    assert b.hours == 0.0 and not len(b.state()["ids"]) and len(a.state()["ids"]) == 1
