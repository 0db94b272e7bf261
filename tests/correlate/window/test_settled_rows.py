"""Settled rows (pipeline/correlate/window/settled_rows.py): a checkpoint's parts give back the
window's rows exactly, and a settled bucket is written once while its rows leave one by one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.window.buffer import COLUMNS
from pipeline.correlate.window.settled_rows import PART_COLUMNS, SettledRows, join_rows

BUCKET_MS = 60_000


def _rows(event_ms: np.ndarray, first_key: int = 0) -> dict[str, np.ndarray]:
    """Buffer columns of alerts at ``event_ms``, canonical (event time, then key)."""
    n = len(event_ms)
    key = np.arange(first_key, first_key + n, dtype=np.uint64) * np.uint64(2654435761)
    cols = {
        "key": key,
        "alert_id": np.array([f"a:{k}".encode() for k in key], dtype="S"),
        "source": (key % 4).astype(np.int8),
        "event_ms": np.asarray(event_ms, np.int64),
        "x": key.astype(np.float64) * 0.5,
        "y": key.astype(np.float64) * -0.25,
        "category": (key % 7).astype(np.int16),
        "severity": np.full(n, 0.5, np.float32),
        "grid": (key % 3).astype(np.int32),
        "pending": key % 2 == 0,
    }
    assert set(cols) == set(COLUMNS)
    return _canonical(cols)


def _canonical(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort((cols["key"], cols["event_ms"]))
    return {name: values[order] for name, values in cols.items()}


def _join(cols, settled: SettledRows, settled_ms):
    inline, parts, live = settled.split(cols, settled_ms)
    return join_rows(inline, parts, live), parts


def _same_rows(a: dict, b: dict) -> None:
    for name in PART_COLUMNS:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 400), st.integers(1, 5), st.integers(0, 3)),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(0, 2**16),
)
def test_a_window_sliding_through_checkpoints_is_joined_back_exactly(steps, seed):
    """Each step: alerts enter after the settled buckets, rows before a horizon leave unless
    pending, then a checkpoint; the parts give back every row, and a settled bucket that only
    lost rows keeps its part (name and bytes), so it is never written twice."""
    rng = np.random.default_rng(seed)
    settled, cols, now, next_key, before = SettledRows(BUCKET_MS), None, 0, 0, {}
    for arriving, minutes, evict_minutes in steps:
        now += minutes * BUCKET_MS
        # alerts only enter after the last boundary closed (now - 2 min: the settled edge)
        fresh = _rows(rng.integers(now - 2 * BUCKET_MS, now, arriving), next_key)
        next_key += arriving
        cols = (
            fresh
            if cols is None
            else _canonical({k: np.concatenate([cols[k], fresh[k]]) for k in COLUMNS})
        )
        horizon = now - (2 + evict_minutes) * BUCKET_MS
        keep = cols["pending"] | (cols["event_ms"] > horizon)
        cols = {k: v[keep] for k, v in cols.items()}
        joined, parts = _join(cols, settled, now - 2 * BUCKET_MS)
        _same_rows(joined, cols)
        buckets = {name.split("/")[1]: name for name in parts}
        assert len(buckets) == len(parts)  # one part per bucket
        still = set(((cols["event_ms"] // BUCKET_MS) * BUCKET_MS).astype(str))
        # a bucket written before that still holds a row is referred to, not written again
        assert {b: n for b, n in before.items() if b in still} == {
            b: n for b, n in buckets.items() if b in before
        }
        before = buckets


def test_a_row_entering_a_settled_bucket_rewrites_its_part():
    settled = SettledRows(BUCKET_MS)
    cols = _rows(np.arange(0, 5 * BUCKET_MS, 10_000))
    _, first = _join(cols, settled, 4 * BUCKET_MS)
    assert len(first) == 4
    late = _rows(np.array([BUCKET_MS + 5]), first_key=10_000)
    cols = _canonical({k: np.concatenate([cols[k], late[k]]) for k in COLUMNS})
    joined, second = _join(cols, settled, 4 * BUCKET_MS)
    _same_rows(joined, cols)
    assert set(first) - set(second) == {n for n in first if n.startswith(f"rows/{BUCKET_MS}/")}
    assert len(second) == 4


def test_without_a_settled_edge_every_row_is_inline_and_the_parts_are_kept():
    settled = SettledRows(BUCKET_MS)
    cols = _rows(np.arange(0, 5 * BUCKET_MS, 10_000))
    _, parts = _join(cols, settled, 4 * BUCKET_MS)
    inline, none, live = settled.split(cols, None)
    assert none == {} and live == {} and len(inline["key"]) == len(cols["key"])
    _, again = _join(cols, settled, 4 * BUCKET_MS)
    assert all(again[name] is parts[name] for name in parts)  # not rebuilt


def test_adopted_parts_are_referred_to_again_after_a_restore():
    writer = SettledRows(BUCKET_MS)
    cols = _rows(np.arange(0, 5 * BUCKET_MS, 10_000))
    _, parts = _join(cols, writer, 4 * BUCKET_MS)
    restored = SettledRows(BUCKET_MS)
    restored.adopt(parts)
    _, again = _join(cols, restored, 4 * BUCKET_MS)
    assert again == parts


def test_a_missing_or_mismatched_part_is_named():
    settled = SettledRows(BUCKET_MS)
    cols = _rows(np.arange(0, 5 * BUCKET_MS, 10_000))
    inline, parts, live = settled.split(cols, 4 * BUCKET_MS)
    name = sorted(parts)[0]
    with pytest.raises(ValueError, match=f"{name} is missing"):
        join_rows(inline, {k: v for k, v in parts.items() if k != name}, live)
    with pytest.raises(ValueError, match=name):
        join_rows(inline, parts, live | {name: np.ones(3, bool)})
    with pytest.raises(ValueError, match=f"{name} is not readable"):
        join_rows(inline, parts | {name: b"garbage"}, live)
