"""The shared hashing kernels against plain NumPy: the layout is a stable sort by bucket, the
table sizes and slots are the ones every caller relies on, cell ids round-trip."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.correlate.lattice import Lattice
from pipeline.geo.kernels import (
    CELL_OFFSET,
    bucket,
    bucket_count,
    hash_slot,
    layout,
    lower_bound,
    pack_cell,
    unpack_cell,
)


@pytest.mark.parametrize(("n", "want"), [(0, 16), (1, 16), (8, 16), (9, 32), (16, 32), (17, 64)])
def test_bucket_count_is_the_smallest_power_of_two_holding_twice_the_points(n, want):
    assert bucket_count(n) == want


def test_layout_is_a_stable_sort_by_bucket():
    rng = np.random.default_rng(3)
    x = rng.uniform(-500, 500, 2000)
    y = rng.uniform(-500, 500, 2000)
    cell, n_buckets = 7.5, bucket_count(len(x))
    order, start, cx, cy = layout(x, y, cell, n_buckets)
    ix = np.floor(x / cell).astype(np.int64)
    iy = np.floor(y / cell).astype(np.int64)
    buckets = np.array([bucket(a, b, n_buckets - 1) for a, b in zip(ix, iy, strict=True)])
    np.testing.assert_array_equal(order, np.argsort(buckets, kind="stable"))
    np.testing.assert_array_equal(start, np.r_[0, np.cumsum(np.bincount(buckets, None, n_buckets))])
    np.testing.assert_array_equal(cx, ix[order])
    np.testing.assert_array_equal(cy, iy[order])


def test_layout_of_no_points():
    order, start, cx, cy = layout(np.empty(0), np.empty(0), 1.0, 16)
    assert len(order) == len(cx) == len(cy) == 0
    np.testing.assert_array_equal(start, np.zeros(17, np.int64))


def test_lower_bound_is_searchsorted_left():
    t = np.array([1, 3, 3, 3, 7, 9], np.int64)
    for value in range(0, 11):
        assert lower_bound(t, 0, len(t), value) == np.searchsorted(t, value, "left")
    assert lower_bound(t, 2, 4, 3) == 2  # within the slice only
    assert lower_bound(t, 4, 4, 0) == 4  # an empty slice gives its end


def test_hash_slot_is_the_splitmix64_finaliser():
    # Reference values of the splitmix64 finaliser (Steele, Lea and Flood 2014), masked.
    def splitmix(z: int) -> int:
        m = (1 << 64) - 1
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)

    for key in [0, 1, 2, 12345, 2**40 + 17, 2**63 - 1]:
        assert hash_slot(np.int64(key), 1023) == splitmix(key) & 1023
        assert hash_slot(np.uint64(key), (1 << 20) - 1) == splitmix(key) & ((1 << 20) - 1)
    assert hash_slot(np.uint64(2**64 - 1), 4095) == splitmix(2**64 - 1) & 4095


def test_cell_ids_round_trip_and_match_the_lattice():
    lattice = Lattice(250.0)
    ix = np.array([0, -1, 5, CELL_OFFSET - 1, -(CELL_OFFSET - 1)], np.int64)
    iy = np.array([0, 3, -7, -(CELL_OFFSET - 1), CELL_OFFSET - 1], np.int64)
    ids = lattice.cell_id(ix, iy)
    for k in range(len(ix)):
        assert pack_cell(ix[k], iy[k]) == ids[k]
        assert unpack_cell(ids[k]) == (ix[k], iy[k])
    assert (ids >= 0).all()
