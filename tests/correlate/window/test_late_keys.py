"""LateKeys: an alert dead-lettered as late once is a duplicate when a copy comes again."""

from __future__ import annotations

import numpy as np

from pipeline.correlate.window.late_keys import LateKeys


def keys(*values) -> np.ndarray:
    return np.array(values, np.uint64)


def test_a_late_alert_is_dead_lettered_once_however_its_copies_come():
    memory = LateKeys()
    late = np.array([True, False, True, True])
    again = memory.again(late, keys(7, 8, 9, 7), np.array([100, 100, 100, 100]))
    assert again.tolist() == [False, False, False, True]  # 7's second copy in the batch
    again = memory.again(np.array([True, True]), keys(9, 10), np.array([150, 150]))
    assert again.tolist() == [True, False]  # 9 in an earlier batch
    assert sorted(memory.keys.tolist()) == [7, 9, 10]


def test_forgets_what_was_judged_before_the_horizon_and_round_trips_its_state():
    memory = LateKeys()
    memory.again(np.array([True, True]), keys(1, 2), np.array([100, 300]))
    memory.forget_before(None)  # no boundary closed yet: keep all
    assert len(memory) == 2
    memory.forget_before(200)
    assert memory.keys.tolist() == [2]
    restored = LateKeys()
    restored.load_state(memory.state())
    assert restored.again(np.array([True]), keys(2), np.array([300])).tolist() == [True]


def test_a_late_alert_judged_before_what_was_forgotten_is_a_copy():
    """Issue 17: the window passed a late alert's declared progress (a tick in the tail a
    killed normaliser redelivers) before its copy came; the key is forgotten, but a first
    copy is never judged against a progress that old, so the copy is not dead-lettered
    again. The bound survives a snapshot; one from before it assumes nothing."""
    memory = LateKeys()
    memory.again(np.array([True]), keys(1), np.array([100]))
    memory.forget_before(5000)
    assert len(memory) == 0
    again = memory.again(np.array([True, True]), keys(1, 3), np.array([100, 6000]))
    assert again.tolist() == [True, False]
    restored = LateKeys()
    restored.load_state(memory.state())
    assert restored.again(np.array([True]), keys(2), np.array([100])).tolist() == [True]
    old = LateKeys()
    old.load_state({"keys": keys(), "until": np.empty(0, np.int64)})
    assert old.again(np.array([True]), keys(2), np.array([100])).tolist() == [False]
