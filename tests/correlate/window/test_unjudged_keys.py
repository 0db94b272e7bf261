"""UnjudgedKeys: an alert that carried no progress is a duplicate whenever its copy comes."""

from __future__ import annotations

import numpy as np

from pipeline.correlate.window import unjudged_keys
from pipeline.correlate.window.unjudged_keys import UnjudgedKeys


def keys(*values) -> np.ndarray:
    return np.array(values, np.uint64)


def test_a_key_seen_once_is_seen_again_and_the_state_round_trips():
    memory = UnjudgedKeys()
    again = memory.again(np.array([True, False, True]), keys(1, 2, 3))
    assert again.tolist() == [False, False, False]
    again = memory.again(np.array([True, True]), keys(3, 2))
    assert again.tolist() == [True, False]  # 2 was not unjudged before: remembered now
    restored = UnjudgedKeys()
    restored.load_state(memory.state())
    assert restored.again(np.array([True, True]), keys(1, 9)).tolist() == [True, False]


def test_only_the_newest_keys_are_kept(monkeypatch):
    monkeypatch.setattr(unjudged_keys, "CAPACITY", 3)
    memory = UnjudgedKeys()
    memory.again(np.ones(5, bool), keys(1, 2, 3, 4, 5))
    assert memory.keys.tolist() == [3, 4, 5]
    assert memory.again(np.ones(2, bool), keys(1, 5)).tolist() == [False, True]
