"""The cell-test tally counts, per cell, the boundaries it was tested at, however it folds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.scan import tally
from pipeline.correlate.scan.tally import CellTestTally

boundaries = st.lists(
    st.lists(st.integers(-50, 50), unique=True, max_size=20).map(
        lambda ids: np.array(ids, np.int64)
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(boundaries, st.integers(1, 40))
def test_counts_are_the_brute_force_counts_whatever_the_fold_size(tested, fold_at):
    original = tally._FOLD_AT
    tally._FOLD_AT = fold_at  # fold often: the merge of folded and pending counts is exercised
    try:
        t = CellTestTally()
        for ids in tested:
            t.add(ids)
        total = t.total
        ids, counts = t.counts()
    finally:
        tally._FOLD_AT = original
    every = np.concatenate([np.empty(0, np.int64), *tested])
    want_ids, want_counts = np.unique(every, return_counts=True)
    assert np.array_equal(ids, want_ids) and np.array_equal(counts, want_counts)
    assert total == len(every) == int(counts.sum())


def test_an_empty_tally_counts_nothing():
    ids, counts = CellTestTally().counts()
    assert len(ids) == 0 and len(counts) == 0 and CellTestTally().total == 0
