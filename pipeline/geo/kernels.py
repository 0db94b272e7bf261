"""The Numba kernels every spatial-hash join of the project shares, each in one copy.

The neighbour joins (:mod:`pipeline.geo.spatial_hash`), the flag details
(:mod:`pipeline.correlate.flags.details`) and incident linking
(:mod:`pipeline.correlate.incidents.forest`) all lay points out the same way: square cells a
little wider than the query radius, hashed into a power-of-two number of buckets
(:func:`bucket`, :func:`bucket_count`), then a stable counting sort by bucket (:func:`layout`)
so that each bucket is a contiguous slice, in input order. Open-addressing tables keyed by
64-bit integers (alert keys, lattice cell ids, square keys) start probing at
:func:`hash_slot`. Lattice cell ids pack two signed cell indices into one non-negative int64
(:func:`pack_cell`, :func:`unpack_cell`).

The results the callers publish depend on the exact bucket of every point (the order pairs
and unions are visited in), so these functions are the one definition of it: change one and
every join changes with it, never one twin of it.

Kernels only: ndarrays and scalars in and out, ``@numba.njit(cache=True, nogil=True)``; the
callers validate their inputs. They may be called from Python too (a driver sizing a table).

Numba's on-disk cache of a caller in another module is keyed on that module's own source, not
on this one: after editing a kernel here, delete the ``__pycache__`` folders (or point
``NUMBA_CACHE_DIR`` elsewhere) so no caller runs a stale copy compiled into its cache.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "CELL_BITS",
    "CELL_OFFSET",
    "CELL_MARGIN",
    "MIN_CELL",
    "bucket",
    "bucket_count",
    "hash_slot",
    "layout",
    "lower_bound",
    "pack_cell",
    "probe",
    "table_capacity",
    "unpack_cell",
]

#: Join cells are the radius times this factor. With cells exactly ``r`` wide, rounding in
#: ``x / cell`` could put two points less than ``r`` apart two cells apart; the margin (far above
#: the relative rounding error of metre coordinates, far below anything that costs time) rules
#: that out. Every pair is still tested exactly (``dx² + dy² <= r²``).
CELL_MARGIN = 1.0 + 2.0**-20
#: Below this cell width (metres) the cell index of city-scale coordinates would be needlessly
#: large; any width >= r is exact, so r = 0 (exact duplicates only) uses this one.
MIN_CELL = 1.0

#: Lattice cell ids hold two indices of this many bits each; +-2**20 cells of 250 m reach
#: 260,000 km from the projection origin, so any city fits and ids stay small non-negative
#: int64s.
CELL_BITS = 21
#: Added to a cell index before packing (indices must lie strictly within +-CELL_OFFSET).
CELL_OFFSET = 1 << (CELL_BITS - 1)


@numba.njit(cache=True, nogil=True)
def bucket(cx, cy, mask):
    """Bucket of integer cell ``(cx, cy)`` among ``mask + 1`` (a power of two).

    Teschner et al. (2003) spatial hash; int64 products wrap, which is all a hash needs.
    """
    return ((cx * 73856093) ^ (cy * 19349663)) & mask


@numba.njit(cache=True, nogil=True)
def bucket_count(n):
    """Buckets for ``n`` points: the smallest power of two at least ``2 n``, and at least 16
    (so the hash reduces with a mask, with few collisions)."""
    size = 16
    while size < 2 * n:
        size *= 2
    return size


@numba.njit(cache=True, nogil=True)
def layout(x, y, cell, n_buckets):
    """Cell coordinates, and a stable counting sort of the points by bucket.

    Returns ``(order, start, cx, cy)``: ``order[k]`` is the input index at sorted position
    ``k``, bucket ``b`` occupies sorted positions ``start[b]:start[b + 1]`` (points in input
    order: time-sort the input to get time-sorted buckets), and ``cx, cy`` are the cell
    coordinates (``floor(x / cell)``) in sorted order. O(n) whatever the extent of the data.
    """
    n = x.shape[0]
    mask = n_buckets - 1
    cxi = np.empty(n, np.int64)
    cyi = np.empty(n, np.int64)
    start = np.zeros(n_buckets + 1, np.int64)
    for i in range(n):
        cxi[i] = np.int64(math.floor(x[i] / cell))
        cyi[i] = np.int64(math.floor(y[i] / cell))
        start[bucket(cxi[i], cyi[i], mask) + 1] += 1
    for b in range(n_buckets):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    cx = np.empty(n, np.int64)
    cy = np.empty(n, np.int64)
    for i in range(n):
        b = bucket(cxi[i], cyi[i], mask)
        k = fill[b]
        fill[b] += 1
        order[k] = i
        cx[k] = cxi[i]
        cy[k] = cyi[i]
    return order, start, cx, cy


@numba.njit(cache=True, nogil=True)
def lower_bound(t, lo, hi, value):
    """First position in ``t[lo:hi]`` (ascending) whose value is ``>= value`` (``hi`` when
    none): the time-gap scans of time-sorted buckets and rows start here."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if t[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def hash_slot(key, mask):
    """Home slot of the 64-bit integer ``key`` in a table of ``mask + 1`` (a power of two).

    The splitmix64 finaliser: keys alike in their low bits (neighbouring cell ids, packed
    squares) spread over the whole table.
    """
    z = np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.int64(z & np.uint64(mask))


@numba.njit(cache=True, nogil=True)
def probe(table, key, empty):
    """Slot of ``key`` in the open-addressing ``table`` (linear probing from its
    :func:`hash_slot`; ``empty``, of the table's type, marks a free slot and is never a key):
    where it is, or the free slot where it goes. The table must keep a free slot (the callers
    keep it at most two thirds full)."""
    mask = table.shape[0] - 1
    s = hash_slot(key, mask)
    while table[s] != empty and table[s] != key:
        s = (s + 1) & mask
    return s


def table_capacity(n: int) -> int:
    """A power-of-two table size that holds ``n`` keys at most two thirds full (1,024 at least)."""
    return 1 << max(10, int(3 * max(n, 1) // 2).bit_length())


@numba.njit(cache=True, nogil=True)
def pack_cell(ix, iy):
    """Lattice cell id of cell indices ``(ix, iy)``, each within ``+-CELL_OFFSET``."""
    return ((ix + CELL_OFFSET) << CELL_BITS) | (iy + CELL_OFFSET)


@numba.njit(cache=True, nogil=True)
def unpack_cell(cell_id):
    """Cell indices ``(ix, iy)`` of a lattice cell id (the inverse of :func:`pack_cell`)."""
    low = (1 << CELL_BITS) - 1
    return (cell_id >> CELL_BITS) - CELL_OFFSET, (cell_id & low) - CELL_OFFSET
