"""The window's events from the buffer rows in one kernel: the burst statuses of
:func:`~pipeline.correlate.window.bursts.burst_statuses` (the reference) and the counted rows that
repeat nothing, decided at boundaries one after the other as the engine does."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.lattice import Lattice
from pipeline.correlate.window.bursts import burst_statuses
from pipeline.correlate.window.events import cell_counts, window_events

S = 1000


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    radius=st.sampled_from([0.0, 25.0, 50.0, 120.0]),
    gap_s=st.sampled_from([0, 5, 30, 90]),
    window_s=st.sampled_from([60, 300]),
    kinds=st.integers(1, 6),
    cut=st.integers(0, 3),
    far=st.sampled_from([1.0, 1.0, 1e5]),  # coordinates of thousands of km: wider squares
)
@settings(max_examples=200, deadline=None)
def test_statuses_and_rows_equal_the_reference(
    seed, n, radius, gap_s, window_s, kinds, cut, far
):  # fmt: skip
    rng = np.random.default_rng(seed)
    on_grid = rng.random(n) < 0.5  # points at exactly the radius apart, and equal times
    t = np.sort(rng.integers(0, 900, n)) * S
    cols = {
        "event_ms": t.astype(np.int64),
        "x": np.where(on_grid, rng.integers(0, 6, n) * 25.0, rng.uniform(0, 200, n)) * far,
        "y": np.where(on_grid, 0.0, rng.uniform(0, 200, n)) * far,
        "source": rng.integers(0, 2, n).astype(np.int8),
        "category": rng.integers(0, kinds, n).astype(np.int16),
        "severity": np.where(rng.random(n) < 0.15, 0.0, rng.random(n)).astype(np.float32),
        "repeat": np.full(n, -1, np.int8),
    }
    gap, window = gap_s * S, window_s * S
    # Boundaries every 60 s from a random start; after a "restore" (cut) statuses start over.
    decided = None  # the engine's hint: rows up to the last boundary are decided
    through = lambda ms: int(np.searchsorted(t, ms, side="right"))  # noqa: E731
    for k, b in enumerate(range((cut + 1) * 60 * S, 960 * S, 60 * S)):
        if k == cut:
            cols["repeat"][:] = -1
            decided = None
        start = b - window
        lo, mid, hi = through(start - gap), through(start), through(b)
        idx = lo + np.flatnonzero(cols["severity"][lo:hi] > 0)
        rows = {name: col[idx] for name, col in cols.items()}
        want = burst_statuses(rows, radius, gap, since_ms=start, known=rows["repeat"])
        after = rows["event_ms"] > start
        want_rows = idx[after & ~want]
        scan = 0 if decided is None else through(decided)
        since = max(mid, through(b - 60 * S))  # the new rows only, every other boundary
        if k % 2:
            got_rows = window_events(cols, (lo, mid, hi), radius, gap, scan, since)
            want_rows = want_rows[want_rows >= since]
        else:
            got_rows = window_events(cols, (lo, mid, hi), radius, gap, scan)
        decided = b
        assert got_rows.tolist() == want_rows.tolist()
        assert cols["repeat"][idx[after]].tolist() == want[after].astype(int).tolist()


def test_an_earlier_repeat_still_makes_the_next_one_a_repeat():
    n = 3
    cols = {
        "event_ms": np.array([0, 20, 40], np.int64) * S,
        "x": np.zeros(n),
        "y": np.zeros(n),
        "source": np.zeros(n, np.int8),
        "category": np.zeros(n, np.int16),
        "severity": np.ones(n, np.float32),
        "repeat": np.full(n, -1, np.int8),
    }
    assert window_events(cols, (0, 0, n), 50.0, 30 * S).tolist() == [0]
    assert cols["repeat"].tolist() == [0, 1, 1]


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), cell_m=st.sampled_from([250.0, 7.0]))
@settings(max_examples=100, deadline=None)
def test_cell_counts_equal_numpys_unique(seed, n, cell_m):
    rng = np.random.default_rng(seed)
    on_edge = rng.random(n) < 0.3  # points exactly on cell edges, and negative coordinates
    cols = {
        "x": np.where(on_edge, rng.integers(-9, 9, n) * cell_m, rng.uniform(-3000, 3000, n)),
        "y": np.where(on_edge, rng.integers(-9, 9, n) * cell_m, rng.uniform(-3000, 3000, n)),
    }
    rows = np.sort(rng.choice(max(n, 1), rng.integers(0, n + 1), replace=False)) if n else []
    lattice = Lattice(cell_m)
    rows = np.asarray(rows, np.int64)
    want = np.unique(
        lattice.cell_id(*lattice.index(cols["x"][rows], cols["y"][rows])), return_counts=True
    )
    got = cell_counts(cols, rows, lattice)
    assert [a.tolist() for a in got] == [a.tolist() for a in want]
    assert got[1].dtype == want[1].dtype
