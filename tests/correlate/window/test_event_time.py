"""Watermark, lateness, duplicates and boundaries of the event-time window."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.window.event_time import EventWindow

S = 1000


def admit_all(window, t, keys=None, retained=None):
    t = np.asarray(t, np.int64)
    keys = np.arange(len(t), dtype=np.uint64) if keys is None else np.asarray(keys, np.uint64)
    return window.admit(t, keys, np.asarray([] if retained is None else retained, np.uint64))


def test_late_is_judged_per_alert_in_arrival_order():
    w = EventWindow(1800 * S, 60 * S, 120 * S)
    late, dup = admit_all(w, [1000 * S, 1100 * S, 979 * S, 980 * S, 985 * S])
    # After 1100 s the watermark is 980 s: 979 s is late, 980 s is on time.
    assert late.tolist() == [False, False, True, False, False]
    assert not dup.any()
    assert w.watermark == 980 * S


def test_duplicates_in_batch_and_retained_first_one_wins():
    w = EventWindow(1800 * S, 60 * S, 120 * S)
    late, dup = admit_all(w, [5, 6, 7, 8], keys=[1, 2, 1, 9], retained=[9])
    assert dup.tolist() == [False, False, True, True]
    assert not late.any()


def test_a_redelivery_is_a_duplicate_not_late():
    w = EventWindow(1800 * S, 60 * S, 120 * S)
    admit_all(w, [1000 * S], keys=[5])
    late, dup = admit_all(w, [500 * S, 500 * S], keys=[4, 6], retained=[4])
    assert dup.tolist() == [True, False] and late.tolist() == [False, True]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=60), st.data())
def test_lateness_does_not_depend_on_batch_cuts(times, data):
    whole = EventWindow(1800, 60, 100)
    late_whole, _ = admit_all(whole, times)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(times)), max_size=6)))
    pieces = EventWindow(1800, 60, 100)
    late_pieces = np.concatenate(
        [
            admit_all(pieces, times[a:b])[0]
            for a, b in zip([0, *cuts], [*cuts, len(times)], strict=True)
        ]
    )
    assert late_pieces.tolist() == late_whole.tolist()
    assert pieces.watermark == whole.watermark == max(times) - 100


def test_boundaries_close_strictly_after_the_watermark_passes():
    w = EventWindow(1800 * S, 60 * S, 120 * S)
    admit_all(w, [130 * S])  # watermark 10 s
    w.start(10 * S)
    assert w.pop_due() is None  # first boundary 60 s is not yet passed
    admit_all(w, [180 * S])  # watermark exactly 60 s: still not strictly past
    w.start(10 * S)
    assert w.pop_due() is None
    admit_all(w, [241 * S])  # watermark 121 s
    w.start(10 * S)
    assert [w.pop_due(), w.pop_due(), w.pop_due()] == [60 * S, 120 * S, None]
    assert w.horizon_ms() == 180 * S - 1800 * S


def test_skip_jumps_to_the_next_alert_but_not_past_the_watermark():
    w = EventWindow(1800 * S, 60 * S, 0)
    admit_all(w, [0, 100_000 * S])
    w.start(0)
    assert w.pop_due() == 0
    w.skip_to(5_000 * S + 1)
    assert w.next_boundary == 5_040 * S  # ceil to a multiple of 60 s
    w.skip_to(None)
    assert w.next_boundary == 100_020 * S  # the first multiple of 60 s >= the watermark
    w.advance(50 * S)  # never moves back
    assert w.watermark == 100_000 * S
