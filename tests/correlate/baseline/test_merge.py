"""The per-slide merge kernel against the NumPy merge it replaced, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.baseline.merge import merge_sorted


def numpy_merge(ids, counts, cell_ids, add):
    """The merge ``Baseline._merge_unique`` made before the kernel (searchsorted, add in
    place, np.insert of the new cells)."""
    counts = counts.astype(np.float64)
    pos = np.searchsorted(ids, cell_ids)
    known = pos < len(ids)
    known[known] = ids[pos[known]] == cell_ids[known]
    counts[pos[known]] += add[known]
    fresh = ~known
    if fresh.any():
        ids = np.insert(ids, pos[fresh], cell_ids[fresh])
        counts = np.insert(counts, pos[fresh], 0.0 + add[fresh])
    return ids, counts


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-50, 50), unique=True, max_size=30),
    st.lists(st.integers(-60, 60), unique=True, max_size=12),
    st.integers(0, 2**32 - 1),
)
def test_merge_matches_the_numpy_merge(known, cells, seed):
    rng = np.random.default_rng(seed)
    ids = np.array(sorted(known), np.int64)
    counts = rng.choice([0.0, -0.0, 0.1, 1.0, 1 / 3, 2.5], len(ids))
    cell_ids = np.array(sorted(cells), np.int64)
    add = rng.choice([0.0, -0.0, 0.1, 1.0, 1 / 3, 7.0], len(cell_ids))
    want_ids, want_counts = numpy_merge(ids, counts.copy(), cell_ids, add)
    got_ids, got_counts, fresh = merge_sorted(ids, counts.copy(), cell_ids, add)
    assert fresh == len(want_ids) - len(ids)
    assert got_ids.dtype == want_ids.dtype and got_counts.dtype == want_counts.dtype
    assert got_ids.tobytes() == want_ids.tobytes()
    assert got_counts.tobytes() == want_counts.tobytes()


def test_cells_not_sorted_and_unique_are_left_to_the_general_path():
    ids, counts = np.array([1, 4], np.int64), np.array([2.0, 3.0])
    for cells in ([4, 1], [4, 4]):
        out_ids, out_counts, fresh = merge_sorted(
            ids, counts, np.array(cells, np.int64), np.ones(2)
        )
        assert fresh == -1 and counts.tolist() == [2.0, 3.0] and out_ids is ids
