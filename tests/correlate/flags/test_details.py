"""Disk details (what a flag reports about the events in its disk) equal a plain NumPy
selection of the window's rows, ties and disk edges included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.alerts import CATEGORIES, SOURCES
from pipeline.correlate.flags.details import RowIndex

from ..helpers import T0


def reference(rows, cx, cy, radius, after):
    """The selection flags made before: exact disk test, ties to the first row."""
    d2 = (rows["x"] - cx) ** 2 + (rows["y"] - cy) ** 2
    near = (d2 <= radius**2) & (rows["event_ms"] > after)
    t = rows["event_ms"][near]
    return (
        np.bincount(rows["source"][near], minlength=len(SOURCES)).tolist(),
        np.bincount(rows["category"][near], minlength=len(CATEGORIES)).tolist(),
        int(rows["grid"][near][np.argmin(d2[near])]) if near.any() else -1,
        int(t.min()) if len(t) else None,
        int(t.max()) if len(t) else None,
    )


def _scene(rng, n, n_disks):
    # Half the rows on a 125 m grid: equal distances (ties) and rows exactly on disk edges.
    on_grid = rng.random(n) < 0.5
    rows = {
        "x": np.where(on_grid, rng.integers(-12, 12, n) * 125.0, rng.uniform(-1500, 1500, n)),
        "y": np.where(on_grid, rng.integers(-12, 12, n) * 125.0, rng.uniform(-1500, 1500, n)),
        "event_ms": np.sort(T0 + rng.integers(0, 1_800_000, n)),
        "source": rng.integers(0, len(SOURCES), n).astype(np.int8),
        "category": rng.integers(0, len(CATEGORIES), n).astype(np.int16),
        "grid": rng.integers(-1, 50, n).astype(np.int32),
    }
    cx = rng.integers(-8, 8, n_disks) * 125.0 + np.where(rng.random(n_disks) < 0.5, 0, 37.5)
    cy = rng.integers(-8, 8, n_disks) * 125.0
    radius = rng.choice([125.0, 250.0, 500.0], n_disks)
    after = T0 + rng.integers(-1, 1_800_000, n_disks)
    return rows, (cx, cy, radius, after)


def _check(got, rows, disks):
    for d in range(len(disks[0])):
        found = got.found(d)
        assert (
            got.by_source[d].tolist(),
            got.by_category[d].tolist(),
            int(got.grid[d]) if found else -1,
            int(got.first_ms[d]) if found else None,
            int(got.last_ms[d]) if found else None,
        ) == reference(rows, *(a[d] for a in disks))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400), st.integers(0, 30), st.integers(0, 2**32 - 1))
def test_details_equal_a_numpy_selection(n, n_disks, seed):
    rows, disks = _scene(np.random.default_rng(seed), n, n_disks)
    _check(RowIndex(rows).describe(*disks), rows, disks)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 400),
    st.integers(1, 30),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(0, 400), max_size=4),
)
def test_an_extended_index_describes_like_one_of_all_rows(n, n_disks, seed, cuts):
    """Laid out, then extended with later rows batch by batch (as the engine does at the
    boundaries that follow), then queried: the same details as one index of every row."""
    rows, disks = _scene(np.random.default_rng(seed), n, n_disks)
    edges = [0, *sorted(c for c in cuts if c < n), n]
    index = RowIndex(rows, np.arange(edges[1]))
    index.describe(*disks)  # lays it out
    for a, z in zip(edges[1:-1], edges[2:], strict=True):
        index.extend(rows, np.arange(a, z))
        index.describe(*(d[:1] for d in disks))
    _check(index.describe(*disks), rows, disks)


def test_no_disks_builds_nothing():
    rows = {k: np.zeros(3) for k in ("x", "y")}
    index = RowIndex(rows)  # other columns missing: describing no disk must not touch them
    assert index.describe(np.empty(0), np.empty(0), np.empty(0), np.empty(0)).grid.shape == (0,)
