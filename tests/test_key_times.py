"""The key -> last-seen-time map behind the dedupe index."""

from __future__ import annotations

import numpy as np

from pipeline.key_times import KeyTimes


def u64(*values: int) -> np.ndarray:
    return np.array(values, np.uint64)


def at(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def test_a_key_keeps_its_latest_time():
    m = KeyTimes()
    m.put(u64(5, 5, 6), at(30, 10, 1))
    assert len(m) == 2
    assert m.seen_since(u64(5, 6, 7), 20).tolist() == [True, False, False]
    m.put(u64(6), at(40))
    assert m.seen_since(u64(6), 20).tolist() == [True]


def test_key_zero_is_a_key_like_any_other():
    m = KeyTimes()
    assert m.seen_since(u64(0), -(2**62)).tolist() == [False]
    m.put(u64(0), at(3))
    assert m.seen_since(u64(0, 2), 3).tolist() == [True, False]


def test_growing_and_forgetting_keep_the_times():
    m = KeyTimes()
    keys = np.arange(1, 5_001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    m.put(keys, np.arange(5_000, dtype=np.int64))  # grows the table several times
    assert len(m) == 5_000 and m.oldest() == 0
    assert m.seen_since(keys, 2_500).sum() == 2_500
    m.forget_before(4_000)
    assert len(m) == 1_000 and m.oldest() == 4_000
    assert m.seen_since(keys, 0).tolist() == [False] * 4_000 + [True] * 1_000
