"""The spatial-hash joins against brute force: same pair set, same neighbour sums."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geo import spatial_hash
from pipeline.geo.spatial_hash import count_pairs_within, neighbour_sums, pairs_within


def brute_pairs(x, y, r, t=None, t_gap=0):
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    ok = dx * dx + dy * dy <= r * r
    if t is not None:
        ok &= np.abs(t[:, None] - t[None, :]) <= t_gap
    i, j = np.nonzero(np.triu(ok, k=1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


def as_set(i, j):
    assert i.dtype == np.int32 and j.dtype == np.int32  # fewer than 2**31 points
    assert (i < j).all()
    pairs = list(zip(i.tolist(), j.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a pair was emitted twice"
    return set(pairs)


def test_small_example_exact_pairs():
    x = np.array([0.0, 100.0, 150.0, 400.0, 0.0])
    y = np.array([0.0, 0.0, 0.0, 0.0, 150.0])
    t = np.array([0, 60, 700, 0, 0], dtype=np.int64)
    # 0-1 (100 m), 1-2 (50 m), 0-2 (150 m, on the radius), 0-4 (150 m); 3 is alone.
    assert as_set(*pairs_within(x, y, 150.0)) == {(0, 1), (0, 2), (0, 4), (1, 2)}
    # With a 650 s gap, point 2 (t=700) only pairs with point 1 (t=60).
    assert as_set(*pairs_within(x, y, 150.0, t, 650)) == {(0, 1), (0, 4), (1, 2)}
    assert count_pairs_within(x, y, 150.0, t, 600) == 2


def test_random_city_matches_brute_force():
    rng = np.random.default_rng(7)
    n = 1500
    x = rng.uniform(0, 3000, n)
    y = rng.uniform(-2000, 1000, n)
    t = rng.integers(0, 1_800_000, n)
    got = as_set(*pairs_within(x, y, 150.0, t, 600_000))
    assert got == brute_pairs(x, y, 150.0, t, 600_000)
    assert len(got) > 1000


def test_r_zero_pairs_exact_duplicates_only():
    x = np.array([1.0, 1.0, 1.0, 2.0, 2.0])
    y = np.array([5.0, 5.0, 5.0000001, 0.0, 0.0])
    assert as_set(*pairs_within(x, y, 0.0)) == {(0, 1), (3, 4)}


def test_empty_and_single():
    e = np.empty(0)
    i, j = pairs_within(e, e, 10.0)
    assert len(i) == len(j) == 0
    i, j = pairs_within(np.zeros(1), np.zeros(1), 10.0)
    assert len(i) == 0


def test_bad_input_says_how_to_fix():
    with pytest.raises(ValueError, match="astype"):
        pairs_within(np.zeros(3, np.int32), np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        pairs_within(np.array([np.nan]), np.zeros(1), 1.0)
    with pytest.raises(ValueError, match="radius"):
        pairs_within(np.zeros(2), np.zeros(2), -1.0)
    with pytest.raises(ValueError, match="aligned"):
        pairs_within(np.zeros(2), np.zeros(3), 1.0)


# Coordinates on a lattice of quarter radii put many points exactly on cell borders and many
# pairs exactly at distance r; small ranges force duplicates and dense buckets.
@st.composite
def point_sets(draw):
    r = draw(st.sampled_from([0.0, 1.0, 2.5, 7.0, 150.0]))
    n = draw(st.integers(0, 60))
    step = r / 4 if r > 0 else 1.0
    ints = st.integers(-12, 12)
    on_grid = draw(st.booleans())
    if on_grid:
        x = np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.float64) * step
        y = np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.float64) * step
    else:
        fl = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
        x = np.array(draw(st.lists(fl, min_size=n, max_size=n)), dtype=np.float64)
        y = np.array(draw(st.lists(fl, min_size=n, max_size=n)), dtype=np.float64)
    t = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=np.int64)
    gap = draw(st.integers(0, 25))
    return x, y, t, r, gap


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_pairs_match_brute_force(case):
    x, y, t, r, gap = case
    assert as_set(*pairs_within(x, y, r)) == brute_pairs(x, y, r)
    assert as_set(*pairs_within(x, y, r, t, gap)) == brute_pairs(x, y, r, t, gap)
    assert count_pairs_within(x, y, r, t, gap) == len(brute_pairs(x, y, r, t, gap))


@settings(max_examples=300, deadline=None)
@given(point_sets(), st.integers(0, 2**32 - 1))
def test_active_pairs_are_the_pairs_touching_an_active_point(case, seed):
    x, y, t, r, gap = case
    active = np.random.default_rng(seed).random(len(x)) < 0.3
    want = {(i, j) for i, j in brute_pairs(x, y, r, t, gap) if active[i] or active[j]}
    assert as_set(*pairs_within(x, y, r, t, gap, active=active)) == want
    assert count_pairs_within(x, y, r, t, gap, active=active) == len(want)
    everyone = np.ones(len(x), bool)
    assert as_set(*pairs_within(x, y, r, active=everyone)) == brute_pairs(x, y, r)


@settings(max_examples=150, deadline=None)
@given(point_sets(), st.integers(0, 2**32 - 1))
def test_neighbour_sums_match_brute_force(case, seed):
    x, y, _, r, _ = case
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, len(x))
    w = rng.random(len(x))
    qx = np.concatenate([x[:5], rng.uniform(-20, 20, 4)])
    qy = np.concatenate([y[:5], rng.uniform(-20, 20, 4)])
    counts, sums = neighbour_sums(qx, qy, x, y, r, labels, 3, w)
    d2 = (qx[:, None] - x[None, :]) ** 2 + (qy[:, None] - y[None, :]) ** 2
    near = d2 <= r * r
    for lab in range(3):
        sel = near & (labels[None, :] == lab)
        np.testing.assert_array_equal(counts[:, lab], sel.sum(1))
        np.testing.assert_allclose(sums[:, lab], (sel * w[None, :]).sum(1), rtol=1e-12)


def test_threaded_passes_give_the_serial_pairs(monkeypatch):
    # The threaded count and fill kernels run only from PARALLEL_MIN_POINTS scanned points;
    # lowered to 0, a small input takes them and must give the serial twins' pairs, in order.
    rng = np.random.default_rng(11)
    n = 4000
    x, y = rng.uniform(0, 4000, n), rng.uniform(0, 4000, n)
    t = rng.integers(0, 600_000, n)
    active = rng.random(n) < 0.2
    cases = [{}, {"t": t, "t_gap": 60_000}, {"t": t, "t_gap": 60_000, "active": active}]
    serial = [pairs_within(x, y, 60.0, **kw) for kw in cases]
    monkeypatch.setattr(spatial_hash, "PARALLEL_MIN_POINTS", 0)
    for kw, (i, j) in zip(cases, serial, strict=True):
        ti, tj = pairs_within(x, y, 60.0, **kw)
        np.testing.assert_array_equal(ti, i)
        np.testing.assert_array_equal(tj, j)
        assert count_pairs_within(x, y, 60.0, **kw) == len(i)
    assert len(serial[0][0]) > 1000
