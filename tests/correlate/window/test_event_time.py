"""Watermark, lateness per origin, duplicates and boundaries of the event-time window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.exceptions import SnapshotError
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


# --- several origins -------------------------------------------------------------------------

LATENESS, SLIDE, WINDOW = 100, 60, 600
NO = np.iinfo(np.int64).min  # no declared progress


def test_an_alert_is_late_only_behind_its_own_origins_progress():
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    late, _ = w.admit(
        np.array([1000, 500, 880, 899], np.int64),
        np.arange(4, dtype=np.uint64),
        np.empty(0, np.uint64),
        np.array([0, 1, 1, 0]),
    )
    # 500 is origin 1's first: not late behind origin 0's 1000; 899 is behind 1000 - 100
    assert late.tolist() == [False, False, False, True]
    assert w.progress.tolist() == [1000, 880]
    assert w.watermark == 880 - LATENESS


def test_an_origin_that_declared_nothing_holds_the_watermark_back():
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=3)
    admit_all(w, [10_000])
    w.declare(np.array([1]), np.array([20_000]))
    assert w.watermark == np.iinfo(np.int64).min
    w.declare(np.array([2, 2]), np.array([9_000, 5_000]))  # a lower mark never moves it back
    assert w.progress.tolist() == [10_000, 20_000, 9_000]
    assert w.watermark == 9_000 - LATENESS
    w.advance(30_000)  # the end of a backfill: every origin
    assert w.watermark == 30_000 - LATENESS


def test_a_mark_makes_its_origins_older_alerts_late():
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    w.declare(np.array([0]), np.array([5_000]))
    late, _ = w.admit(
        np.array([4_899, 4_900], np.int64),
        np.arange(2, dtype=np.uint64),
        np.empty(0, np.uint64),
        np.array([0, 0]),
    )
    assert late.tolist() == [True, False]


def test_progress_is_state_and_another_origin_count_is_refused():
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    w.declare(np.array([0, 1]), np.array([700, 900]))
    restored = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    restored.load_state(w.state())
    assert restored.progress.tolist() == [700, 900] and restored.watermark == w.watermark
    with pytest.raises(SnapshotError, match="partition count changed"):
        EventWindow(WINDOW, SLIDE, LATENESS, origins=3).load_state(w.state())


def _drive(window: EventWindow, steps) -> tuple[dict, list[int]]:
    """Feed ``steps`` (``("alerts", origin, ids, times, declared)`` or ``("marks", origin,
    times)``) as
    the engine does: admit or declare, then close what is due from the earliest admitted
    alert. Returns each alert's late decision and the boundaries closed, checking on the way
    that no alert that is not late falls at or before a boundary closed before it came."""
    late_of, closed, earliest = {}, [], None
    for step in steps:
        if step[0] == "alerts":
            _, origin, ids, times, declared = step
            late, _ = window.admit(
                np.asarray(times, np.int64),
                np.asarray(ids, np.uint64),
                np.empty(0, np.uint64),
                np.asarray(origin, np.int64),
                np.asarray(declared, np.int64),
            )
            for i, t, is_late in zip(ids, times, late.tolist(), strict=True):
                late_of[i] = is_late
                if not is_late:
                    assert not closed or t > closed[-1], "a closed boundary's alerts changed"
                    earliest = t if earliest is None else min(earliest, t)
        else:
            window.declare(np.asarray(step[1], np.int64), np.asarray(step[2], np.int64))
        if earliest is not None:
            window.start(earliest)
        while (b := window.pop_due()) is not None:
            closed.append(b)
    return late_of, closed


NONE = np.iinfo(np.int64).min


@st.composite
def origin_streams(draw):
    """Per origin, its records in the order it produced them: alerts (unique ids), alerts
    routed to other partitions (``hidden``: not delivered here, but later alerts carry their
    progress) and marks. An alert carries the largest time of every record before it."""
    count = draw(st.integers(1, 4))
    streams, next_id = [], 0
    for _ in range(count):
        records, declared = [], NONE
        for kind, t in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["alert", "alert", "alert", "hidden", "mark"]),
                    st.integers(0, 3000),
                ),
                max_size=25,
            )
        ):
            if kind != "hidden":
                records.append((kind, next_id, t, declared))
            declared = max(declared, t)
            next_id += 1
        streams.append(records)
    return streams


def _interleaved(streams, order: list[int], cuts: list[bool]):
    """The records merged in ``order`` (an origin per record; each origin keeps its own
    order), alerts cut into batches before every ``True`` of ``cuts`` and at every mark."""
    positions = [0] * len(streams)
    steps, run = [], None
    for n, o in enumerate(order):
        kind, rid, t, declared = streams[o][positions[o]]
        positions[o] += 1
        if kind == "mark":
            run = None
            steps.append(("marks", [o], [t]))
            continue
        if run is None or cuts[n]:
            run = ("alerts", [], [], [], [])
            steps.append(run)
        for column, value in zip(run[1:], (o, rid, t, declared), strict=True):
            column.append(value)
    return steps


@settings(max_examples=200, deadline=None)
@given(origin_streams(), st.data())
def test_late_decisions_and_closed_boundaries_do_not_depend_on_interleaving_or_cuts(streams, data):
    labels = [o for o, records in enumerate(streams) for _ in records]
    one_by_one = _interleaved(streams, labels, [True] * len(labels))  # origin after origin
    order = data.draw(st.permutations(labels))
    cuts = data.draw(st.lists(st.booleans(), min_size=len(labels), max_size=len(labels)))
    whole = EventWindow(WINDOW, SLIDE, LATENESS, origins=len(streams))
    mixed = EventWindow(WINDOW, SLIDE, LATENESS, origins=len(streams))
    late_whole, closed_whole = _drive(whole, one_by_one)
    late_mixed, closed_mixed = _drive(mixed, _interleaved(streams, order, cuts))
    assert late_mixed == late_whole
    assert closed_mixed == closed_whole
    assert mixed.progress.tolist() == whole.progress.tolist()
    # and the rule itself: behind the largest time its origin declared before it (also by
    # alerts delivered elsewhere), minus the lateness
    for records in streams:
        for kind, rid, t, declared in records:
            if kind == "alert":
                assert late_whole[rid] == (declared != NONE and t < declared - LATENESS)


def _admit_declared(window, t, keys, origin, declared, retained=()):
    return window.admit(
        np.asarray(t, np.int64),
        np.asarray(keys, np.uint64),
        np.asarray(retained, np.uint64),
        np.asarray(origin, np.int64),
        np.asarray(declared, np.int64),
    )


@pytest.mark.parametrize("late_copy_first", [True, False])
def test_copies_from_two_feed_partitions_are_each_judged_by_their_own_origin(late_copy_first):
    """Regression (issue 17, 1 vs 2 workers): a message without a key redelivered into another
    feed partition. Origin 0 has reached 10 s, so its copy (at 1 s) is late; origin 1 has
    reached 1.05 s, so its copy is on time. Whichever copy arrives first, the late one is
    dead-lettered and the other enters the window: the same as one worker would decide."""
    late_copy = (1000, 7, 0, 10_000)  # event ms, key, origin, declared
    on_time_copy = (1000, 7, 1, 1_050)
    batch = [late_copy, on_time_copy] if late_copy_first else [on_time_copy, late_copy]
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    late, dup = _admit_declared(w, *map(list, zip(*batch, strict=True)))
    expect_late = [True, False] if late_copy_first else [False, True]
    assert late.tolist() == expect_late
    assert not dup.any()
    # across batches too: the on-time copy is retained when the late one comes
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    first, second = batch
    late1, dup1 = _admit_declared(w, *([v] for v in first))
    retained = [] if late1[0] else [first[1]]
    late2, dup2 = _admit_declared(w, *([v] for v in second), retained=retained)
    assert [late1[0], late2[0]] == expect_late
    assert not dup1.any() and not dup2.any()


def test_two_on_time_copies_keep_the_first_and_drop_the_second_as_a_duplicate():
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    late, dup = _admit_declared(w, [1000, 1000], [7, 7], [1, 0], [1_000, 1_050])
    assert late.tolist() == [False, False] and dup.tolist() == [False, True]


def test_a_redelivered_copy_is_judged_by_its_declared_progress_not_the_origins_since():
    """After a normaliser restart its re-published alerts carry the progress their first copy
    carried; the origin has moved on meanwhile, but the copy is a duplicate, not late."""
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=1)
    _admit_declared(w, [1000, 5000], [7, 8], [0, 0], [900, 1000])
    assert w.progress.tolist() == [5000]
    late, dup = _admit_declared(w, [1000], [7], [0], [900], retained=[7, 8])
    assert late.tolist() == [False] and dup.tolist() == [True]
    # a copy without a declared progress is a duplicate too (checked first, as before)
    late, dup = _admit_declared(w, [1000], [7], [0], [np.iinfo(np.int64).min], retained=[7, 8])
    assert late.tolist() == [False] and dup.tolist() == [True]


def test_a_copy_redelivered_after_the_window_passed_its_first_is_a_duplicate():
    """Issue 17: a normaliser killed before committing redelivers a tail that held a tick, and
    every origin's progress is far past the copy by the time it comes; its first copy's row
    is evicted, so only where it lands tells it is a copy. A first copy that is not late
    never lands behind the watermark; one without a declared progress is judged as before."""
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=2)
    _admit_declared(w, [1000, 1010], [7, 8], [0, 1], [950, 950])
    w.declare(np.array([0, 1]), np.array([50_000, 50_000]))  # the tick
    late, dup = _admit_declared(w, [1000, 1010], [7, 8], [0, 1], [950, 950])
    assert late.tolist() == [False, False] and dup.tolist() == [True, True]
    # a fresh alert at the watermark is not one (watermark 49,900)
    late, dup = _admit_declared(w, [49_900, 1000], [9, 10], [0, 1], [50_000, NO])
    assert late.tolist() == [False, True] and dup.tolist() == [False, False]


def test_the_remembered_watermark_follows_every_write_of_progress():
    """The watermark is remembered between writes of ``progress``: after admits, marks,
    advances and a restore, asked each time, it is the fresh minimum minus the lateness."""
    rng = np.random.default_rng(3)
    w = EventWindow(WINDOW, SLIDE, LATENESS, origins=3)
    for step in range(60):
        kind = step % 4
        if kind == 0:
            n = int(rng.integers(1, 5))
            w.admit(
                rng.integers(0, 50_000, n).astype(np.int64),
                rng.integers(0, 2**63, n, dtype=np.uint64),
                np.empty(0, np.uint64),
                rng.integers(0, 3, n),
            )
        elif kind == 1:
            w.declare(rng.integers(0, 3, 2), rng.integers(0, 60_000, 2))
        elif kind == 2:
            w.advance(int(rng.integers(0, 40_000)))
        else:
            w.load_state(w.state() | {"progress": rng.integers(0, 70_000, 3).tolist()})
        low = int(w.progress.min())
        want = np.iinfo(np.int64).min if low == np.iinfo(np.int64).min else low - LATENESS
        assert w.watermark == want
        assert w.watermark == want  # asked twice: the remembered value
