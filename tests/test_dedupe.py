"""DedupeIndex: first sightings within and across batches, seeding after a restart, pruning."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dedupe import DedupeIndex


def ids(*names) -> np.ndarray:
    return np.array(names, dtype=object)


def ms(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_first_occurrence_in_a_batch_is_kept():
    d = DedupeIndex(1000)
    keep = d.first_sightings(ids("b", "a", "b", "c", "a", "a"), ms(1, 2, 3, 4, 5, 6))
    assert keep.tolist() == [True, True, False, True, False, False]
    assert len(d) == 3


def test_known_ids_are_dropped_in_later_batches():
    d = DedupeIndex(1000)
    d.first_sightings(ids("a", "b"), ms(10, 20))
    assert d.first_sightings(ids("c", "a", "c", "b", "d"), ms(30, 31, 32, 33, 34)).tolist() == [
        True,
        False,
        False,
        False,
        True,
    ]
    assert len(d) == 4


def test_empty_batch():
    d = DedupeIndex(1000)
    keep = d.first_sightings(ids(), ms())
    assert keep.dtype == bool and keep.tolist() == [] and len(d) == 0


def test_seed_makes_ids_known():
    d = DedupeIndex(1000)
    d.seed(ids("camera:a", "camera:b"), ms(100, 200))
    assert len(d) == 2
    assert d.first_sightings(ids("camera:b", "camera:c"), ms(300, 300)).tolist() == [False, True]
    d.seed(ids(), ms())  # nothing to remember is fine
    assert len(d) == 3


def test_prune_forgets_ids_older_than_the_horizon_of_the_newest_event():
    d = DedupeIndex(horizon_ms=100)
    d.first_sightings(ids("old", "edge", "new"), ms(0, 900, 1000))
    d.prune()  # cutoff = 1000 - 100 = 900, kept inclusive
    assert len(d) == 2
    assert d.first_sightings(ids("old", "edge", "new"), ms(0, 900, 1000)).tolist() == [
        True,
        False,
        False,
    ]


def test_prune_runs_by_itself_every_n_batches():
    d = DedupeIndex(horizon_ms=10, prune_every=3)
    d.first_sightings(ids("a"), ms(0))
    d.first_sightings(ids("b"), ms(100))
    assert len(d) == 2  # two batches: no prune yet
    d.first_sightings(ids("c"), ms(200))  # third batch prunes: a and b are > 10 ms older
    assert len(d) == 1
    assert d.first_sightings(ids("a"), ms(0)).tolist() == [True]


def test_prune_after_prune_still_forgets_what_aged_out():
    """Prune skips its scan while nothing can be old enough; the oldest time it keeps is
    recomputed after each scan, so later prunes still forget."""
    d = DedupeIndex(horizon_ms=10)
    d.first_sightings(ids("a", "b"), ms(0, 100))
    d.prune()  # cutoff 90: forgets a
    assert len(d) == 1
    d.first_sightings(ids("c"), ms(105))
    d.prune()  # cutoff 95: nothing to forget
    assert len(d) == 2
    d.first_sightings(ids("d"), ms(300))
    d.prune()  # cutoff 290: forgets b and c
    assert len(d) == 1
    assert d.first_sightings(ids("b", "c", "d"), ms(301, 301, 301)).tolist() == [True, True, False]


def test_prune_on_an_empty_index_is_harmless():
    d = DedupeIndex(100)
    d.prune()
    assert len(d) == 0
    assert d.first_sightings(ids("x"), ms(5)).tolist() == [True]


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=10), max_size=6))
def test_matches_a_set_based_reference(batches):
    d = DedupeIndex(10**9)
    seen: set[str] = set()
    for t, batch in enumerate(batches):
        keep = d.first_sightings(np.array(batch, dtype=object), np.full(len(batch), t, np.int64))
        want = []
        for name in batch:
            want.append(name not in seen)
            seen.add(name)
        assert keep.tolist() == want
    assert len(d) == len(seen)


def test_ids_are_told_apart_by_every_character():
    """Ids are held as hashes of their full text: non-ASCII ids, prefixes and feeds differ."""
    d = DedupeIndex(1000)
    d.first_sightings(ids("camera:é", "camera:ab", "dispatch_110:1"), ms(1, 1, 1))
    keep = d.first_sightings(ids("camera:e", "camera:a", "camera:1", "camera:é"), ms(2, 2, 2, 2))
    assert keep.tolist() == [True, True, True, False]


def origins(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_a_copy_from_another_origin_is_not_a_duplicate():
    """Issue 17: a message without a key redelivered into another feed partition reaches the
    correlators whichever worker reads it; a copy within its own feed partition is dropped."""
    d = DedupeIndex(1000)
    first = d.first_sightings(ids("a", "a", "b"), ms(1, 1, 2), origins(0, 1, 0))
    assert first.tolist() == [True, True, True]
    later = d.first_sightings(ids("a", "a", "b", "b"), ms(3, 3, 3, 3), origins(0, 2, 1, 0))
    assert later.tolist() == [False, True, True, False]


def test_ids_seeded_from_the_warehouse_match_every_origin_until_they_age_out():
    d = DedupeIndex(horizon_ms=100, prune_every=1)
    d.seed(ids("a"), ms(50))
    assert d.unseen(ids("a", "a", "b"), origins(0, 3, 3)).tolist() == [False, False, True]
    d.first_sightings(ids("c"), ms(151), origins(0))  # newest 151: the seed (50) is out
    assert d.unseen(ids("a"), origins(3)).tolist() == [True]


def test_ids_seeded_with_their_origin_are_duplicates_in_that_origin_only():
    """Issue 17: the warehouse keeps each alert's feed partition, so after a restart a copy in
    another feed partition goes on, as it would have without the restart."""
    d = DedupeIndex(1000)
    d.seed(ids("a", "b"), ms(10, 10), origins(2, -1))  # b: stored before origins were kept
    assert d.unseen(ids("a", "a", "b", "b"), origins(2, 5, 2, 5)).tolist() == [
        False,
        True,
        False,
        False,
    ]


def test_an_id_reused_after_the_horizon_goes_on_whenever_the_index_was_pruned():
    """Issue 19, regression: the index forgot ids only when it pruned (every 64 batches), so
    an id reused after the horizon (a dispatch number that restarts each year) was dropped as
    a duplicate until the next prune."""
    d = DedupeIndex(horizon_ms=100)  # prunes every 64 batches: not within this test
    d.first_sightings(ids("110:1"), ms(0))
    d.first_sightings(ids("110:2"), ms(1_000))
    assert d.first_sightings(ids("110:1", "110:2"), ms(1_001, 1_001)).tolist() == [True, False]


@settings(max_examples=100, derandomize=True, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 50)), max_size=8),
        max_size=12,
    ),
    st.integers(1, 4),
)
def test_decisions_do_not_depend_on_when_the_index_prunes(batches, every):
    """Pruning frees memory only: pruning after every batch and never give the same keeps."""
    often, never = DedupeIndex(10, prune_every=every), DedupeIndex(10, prune_every=10**9)
    for batch in batches:
        names = np.array([name for name, _ in batch], dtype=object)
        times = np.array([t for _, t in batch], np.int64)
        assert (
            often.first_sightings(names, times).tolist()
            == never.first_sightings(names, times).tolist()
        )
