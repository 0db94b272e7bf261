"""named_counts against a brute-force dict per row (the pairs, their order, empty rows)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.correlate.named_counts import named_counts


def _reference(counts: np.ndarray, names: np.ndarray) -> list[dict[str, int]]:
    """Row by row, column by column: the definition."""
    return [
        {str(names[j]): int(row[j]) for j in range(counts.shape[1]) if row[j] != 0}
        for row in counts
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([SOURCES, CATEGORIES]).flatmap(
        lambda names: st.tuples(
            st.just(np.array(names, object)),
            arrays(
                np.int64,
                st.tuples(st.integers(0, 12), st.just(len(names))),
                elements=st.integers(0, 3).map(lambda v: v * v),  # mostly zeros and repeats
            ),
        )
    )
)
def test_named_counts_matches_the_row_by_row_definition(case):
    names, counts = case
    got = named_counts(counts, names)
    want = _reference(counts, names)
    assert got == want
    assert [list(d) for d in got] == [list(d) for d in want]  # the key order too
    assert all(type(v) is int for d in got for v in d.values())  # plain ints, not NumPy's


def test_named_counts_keeps_empty_rows_and_column_order():
    names = np.array(["a", "b", "c"], object)
    counts = np.array([[0, 0, 0], [5, 0, 2], [0, 1, 0]])
    assert named_counts(counts, names) == [{}, {"a": 5, "c": 2}, {"b": 1}]
    assert list(named_counts(counts, names)[1]) == ["a", "c"]
    assert named_counts(np.zeros((0, 3), np.int64), names) == []
