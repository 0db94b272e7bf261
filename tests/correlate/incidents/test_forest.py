"""Incremental incident linking in the buffer's root forest gives, at every boundary, the
components and complete incidents of linking all pending rows afresh, wherever the boundaries
fall."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.incidents.forest import (
    _pending_layout,
    close_boundary,
    complete_components,
    earliest_last,
    link_new,
)
from pipeline.correlate.incidents.incident import link_components
from pipeline.geo.kernels import CELL_MARGIN, bucket_count, layout

RADIUS, GAP = 150.0, 600_000


def _roots(root: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = rows.copy()
    while not np.array_equal(root[out], out):
        out = root[out]
    return out


def _check(x, y, t, boundaries, radius, gap):
    """Run the forest over ``boundaries`` and compare each with a fresh link of the pending
    rows; returns how many rows were emitted."""
    cols = {
        "x": x,
        "y": y,
        "event_ms": t,
        "pending": np.ones(len(t), bool),
        "root": np.full(len(t), -1, np.int64),
    }
    prev, emitted = None, 0
    for b in boundaries:
        hi = int(np.searchsorted(t, b, side="right"))
        link_new(
            cols, 0 if prev is None else int(np.searchsorted(t, prev, "right")), hi, radius, gap
        )
        live = int(np.searchsorted(t, b - gap))
        cand = 0 if prev is None else min(int(np.searchsorted(t, prev - gap)), live)
        members, heads = complete_components(cols, cand, live, hi)
        prev = b
        idx = np.flatnonzero(cols["pending"][:hi])
        fresh = idx[link_components(x[idx], y[idx], t[idx], radius, gap)]
        assert np.array_equal(_roots(cols["root"], idx), fresh)
        last = {}
        for i, r in zip(idx.tolist(), fresh.tolist(), strict=True):
            last[r] = max(last.get(r, t[i]), t[i])
        # the earliest time a component has its last row (the engine skips boundaries up to
        # the gap after it): the minimum of the components' last rows' times
        assert earliest_last(cols, hi) == (min(last.values()) if last else None)
        done = np.array([last[r] < b - gap for r in fresh.tolist()], bool)
        assert np.array_equal(members, idx[done])
        assert np.array_equal(heads, fresh[done])
        cols["pending"][members] = False
        cols["root"][members] = -1
        emitted += len(members)
    return emitted


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 300),
    cuts=st.lists(st.integers(0, 3_600_000), min_size=1, max_size=25),
    grid=st.booleans(),
)
def test_forest_matches_a_fresh_link_at_random_boundaries(seed, n, cuts, grid):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 3_000_000, n)).astype(np.int64)
    if grid:  # points on a 50 m grid: distances exactly at the radius, many ties
        x = rng.integers(0, 20, n) * 50.0
        y = rng.integers(0, 20, n) * 50.0
    else:
        x, y = rng.uniform(0, 2000, n), rng.uniform(0, 2000, n)
    _check(x, y, t, sorted(set(cuts)), RADIUS, GAP)


@pytest.mark.parametrize("seed", range(4))
def test_long_chains_are_emitted_whole_once_complete(seed):
    """A chain that keeps growing across many boundaries (its root far behind the new rows)."""
    rng = np.random.default_rng(seed)
    n = 400
    t = np.sort(rng.integers(0, 8_000_000, n)).astype(np.int64)
    x = np.cumsum(rng.uniform(0, 30, n))  # a walk: each step links to the previous alert
    y = rng.uniform(0, 40, n)
    boundaries = list(range(60_000, 10_000_000, 60_000))
    assert _check(x, y, t, boundaries, RADIUS, GAP) == n


def _fresh(x, y, t):
    n = len(t)
    cols = {"x": x, "y": y, "event_ms": t, "pending": np.ones(n, bool)}
    return cols | {"root": np.full(n, -1, np.int64)}


def _separate_calls(cols, b, prev, radius, gap):
    """The engine's incident step before close_boundary: its calls one by one."""
    t = cols["event_ms"]
    hi = int(np.searchsorted(t, b, "right"))
    link_new(cols, 0 if prev is None else int(np.searchsorted(t, prev, "right")), hi, radius, gap)
    cand = 0 if prev is None else int(np.searchsorted(t, prev - gap))
    live = int(np.searchsorted(t, b - gap))
    members = heads = np.empty(0, np.int64)
    if cand < live and cols["pending"][cand:live].any():
        members, heads = complete_components(cols, cand, live, hi)
        cols["pending"][members] = False
        cols["root"][members] = -1
    return members, heads, earliest_last(cols, hi)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 250),
    cuts=st.lists(st.integers(-700_000, 3_700_000), min_size=1, max_size=25),
    grid=st.booleans(),
    want=st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_close_boundary_is_the_separate_calls(seed, n, cuts, grid, want):
    """One kernel per boundary: the same members, roots, earliest last and forest (every
    pointer) as link_new, complete_components and earliest_last called one by one; negative
    times included (the earliest last is a row, not a time that could be -1)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(-600_000, 3_000_000, n)).astype(np.int64)
    if grid:
        x, y = rng.integers(0, 20, n) * 50.0, rng.integers(0, 20, n) * 50.0
    else:
        x, y = rng.uniform(0, 2000, n), rng.uniform(0, 2000, n)
    one, many = _fresh(x, y, t), _fresh(x, y, t)
    prev, scratch = None, np.full(2 * n + 3, -7, np.int64)  # the engine's reused scratch
    for b, wanted in zip(sorted(set(cuts)), want, strict=False):
        out = scratch if wanted else None  # either way: its own or the caller's
        members, heads, last = close_boundary(one, b, prev, RADIUS, GAP, wanted, out)
        m, h, lst = _separate_calls(many, b, prev, RADIUS, GAP)
        assert np.array_equal(members, m) and np.array_equal(heads, h)
        assert last == (lst if wanted else None)
        assert np.array_equal(one["root"], many["root"])
        assert np.array_equal(one["pending"], many["pending"])
        prev = b


def test_close_boundary_refuses_a_bad_radius_or_a_short_scratch():
    cols = _fresh(np.empty(0), np.empty(0), np.empty(0, np.int64))
    with pytest.raises(ValueError, match="radius_m"):
        close_boundary(cols, 0, None, -1.0, GAP)
    cols = _fresh(np.zeros(3), np.zeros(3), np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="at least 6"):
        close_boundary(cols, 5, None, RADIUS, GAP, out=np.empty(5, np.int64))


def _reference_layout(x, y, t, pending, s0, hi, cell):
    """The pending rows' layout as the generic kernel gives it (the fused one must match)."""
    rows = s0 + np.flatnonzero(pending[s0:hi])
    order, start, _, _ = layout(x[rows], y[rows], cell, bucket_count(len(rows)))
    rows = rows[order]
    return rows, x[rows], y[rows], t[rows], start


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    share=st.floats(0.0, 1.0),
    radius=st.sampled_from([0.0, 0.5, 49.9, 150.0, 5000.0]),
)
def test_pending_layout_is_the_generic_layout_of_the_pending_rows(seed, n, share, radius):
    """Bit for bit the same rows, coordinates, times and bucket starts, in the same order: the
    linker's unions, hence the forest's pointers, do not change."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 3_000_000, n)).astype(np.int64)
    x, y = rng.uniform(-3000, 3000, n), rng.uniform(-3000, 3000, n)
    pending = rng.random(n) < share
    s0, hi = sorted(rng.integers(0, n + 1, 2).tolist())
    cell = max(radius, 1.0) * CELL_MARGIN
    got = _pending_layout(x, y, t, pending, s0, hi, cell)
    want = _reference_layout(x, y, t, pending, s0, hi, cell)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert np.array_equal(g, w)


def test_bad_radius_is_refused():
    cols = {k: np.empty(0) for k in ("x", "y")}
    cols |= {"event_ms": np.empty(0, np.int64), "pending": np.empty(0, bool)}
    cols["root"] = np.empty(0, np.int64)
    with pytest.raises(ValueError, match="radius_m"):
        link_new(cols, 0, 0, float("nan"), GAP)
