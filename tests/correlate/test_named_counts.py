"""named_counts: the per-row dicts equal a plain scan of each row, order included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.correlate.named_counts import named_counts


def _scan(row: list[int], names: tuple[str, ...]) -> dict[str, int]:
    return {names[k]: n for k, n in enumerate(row) if n}


@given(
    names=st.sampled_from([SOURCES, CATEGORIES]),
    rows=st.integers(0, 12),
    data=st.data(),
)
@settings(max_examples=80, deadline=None)
def test_named_counts_equal_a_scan_of_each_row(names, rows, data):
    counts = data.draw(
        hnp.arrays(np.int64, (rows, len(names)), elements=st.sampled_from([0, 0, 0, 1, 2, 7]))
    )
    got = named_counts(counts, names)
    want = [_scan(row, names) for row in counts.tolist()]
    assert got == want
    assert [list(d) for d in got] == [list(d) for d in want]  # insertion order too
    assert all(type(v) is int for d in got for v in d.values())


def test_named_counts_rejects_a_row_width_other_than_the_names():
    with pytest.raises(ValueError, match="counts must be"):
        named_counts(np.zeros((2, 3), np.int64), SOURCES)
