"""Neighbour joins on the local projection: all pairs within a radius (and a time gap), and
per-query neighbour counts, via a spatial hash with a sort-based layout.

Points are hashed into square cells a little larger than the query radius, so every neighbour
of a point lies in its own cell or one of the eight around it. The layout is a counting sort by
hash bucket (``order`` plus bucket ``start`` offsets): no Python dicts, memory ``O(n)`` whatever
the extent of the data, and buckets are scanned as contiguous slices. Points are time-sorted
before the (stable) counting sort, so each bucket is time-sorted and a time gap becomes a binary
search plus a short scan instead of a filter over the whole bucket.

Several cells may share a bucket (hash collision); every point keeps its integer cell
coordinates and a scan only accepts points of the cell it is looking for, so collisions cost
time, never correctness. Results are exact: the same pair set as the brute-force test
``dx*dx + dy*dy <= r*r and |t_i - t_j| <= t_gap``.

Coordinates are metres (project lat/lon with :class:`pipeline.geo.projection.LocalProjection`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .kernels import CELL_MARGIN, MIN_CELL, bucket, bucket_count, layout, lower_bound

__all__ = ["pairs_within", "count_pairs_within", "neighbour_sums"]

# Forward half of the 3x3 stencil: each unordered pair of neighbouring cells is visited once.
_FORWARD = np.array([[1, -1], [1, 0], [1, 1], [0, 1]], dtype=np.int64)
_STENCIL = np.array([[dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)], dtype=np.int64)


# --- kernels ---------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _scan_point(p, points, scan, out, pos):
    """Pairs of sorted point ``p``, counted; when ``out_i`` is non-empty also written from
    ``pos`` on (fill pass).

    ``points``: ``(xs, ys, ts, cx, cy, start)``, the points laid out by bucket (time-sorted);
    ``scan``: ``(cells, r2, gap, act)``, what to look for; ``out``: ``(order, out_i, out_j)``,
    the input index of each sorted point and the pair arrays (empty in the count pass).

    Without ``act`` (empty): pairs with points after ``p`` in its own cell or in the forward
    ``cells``, so each pair is seen once. With ``act`` (a flag per sorted point, ``p``
    active): pairs with every point in the 3x3 ``cells``, earlier or later, except active
    points before ``p``, which see that pair themselves.
    """
    xs, ys, ts, cx, cy, start = points
    cells, r2, gap, act = scan
    order, out_i, out_j = out
    mask = start.shape[0] - 2
    # Locals, not array reads in the loops: in the fill pass the compiler cannot prove the
    # output arrays do not alias the inputs, and would reload these after every store.
    fill = out_i.shape[0] > 0
    both = act.shape[0] > 0
    px, py, pt, pcx, pcy = xs[p], ys[p], ts[p], cx[p], cy[p]
    me = order[p] if fill else 0
    found = 0
    for k in range(cells.shape[0] + (0 if both else 1)):
        if k == 0 and not both:  # own cell: only points after p, so each pair is seen once
            tx, ty = pcx, pcy
            b = bucket(tx, ty, mask)
            q, end = p + 1, start[b + 1]
        else:
            c = k if both else k - 1
            tx, ty = pcx + cells[c, 0], pcy + cells[c, 1]
            b = bucket(tx, ty, mask)
            q, end = lower_bound(ts, start[b], start[b + 1], pt - gap), start[b + 1]
        while q < end and ts[q] - pt <= gap:  # buckets are time-sorted
            if cx[q] == tx and cy[q] == ty and (not both or (q != p and (q > p or not act[q]))):
                dx = xs[q] - px
                dy = ys[q] - py
                if dx * dx + dy * dy <= r2:
                    if fill:
                        other = order[q]
                        out_i[pos + found] = min(me, other)
                        out_j[pos + found] = max(me, other)
                    found += 1
            q += 1
    return found


# The two passes run points in parallel: each point's pairs go to its own slice of the output
# (prefix-sum offsets), so the result is identical whatever the thread count or scheduling.
# Small inputs take the serial twins instead: no thread pool, and the GIL is released, so the
# correlators of several partitions (one thread each) overlap.
@numba.njit(cache=True, parallel=True)
def _pair_counts(points, scan):
    """Pairs found from each sorted point (0 for an inactive one)."""
    n = points[0].shape[0]
    act = scan[3]
    counts = np.zeros(n, np.int64)
    none = np.empty(0, np.int32)
    for p in numba.prange(n):
        if act.shape[0] == 0 or act[p]:
            counts[p] = _scan_point(p, points, scan, (none, none, none), 0)
    return counts


@numba.njit(cache=True, nogil=True)
def _pair_counts_serial(points, scan):
    act = scan[3]
    counts = np.zeros(points[0].shape[0], np.int64)
    none = np.empty(0, np.int32)
    for p in range(points[0].shape[0]):
        if act.shape[0] == 0 or act[p]:
            counts[p] = _scan_point(p, points, scan, (none, none, none), 0)
    return counts


@numba.njit(cache=True, parallel=True)
def _pair_fill(points, scan, out, offsets):
    """Write each sorted point's pairs into ``out`` ``(order, out_i, out_j)`` from its
    ``offsets`` entry on (the prefix sums of :func:`_pair_counts`)."""
    act = scan[3]
    for p in numba.prange(points[0].shape[0]):
        if act.shape[0] == 0 or act[p]:
            _scan_point(p, points, scan, out, offsets[p])


@numba.njit(cache=True, nogil=True)
def _pair_fill_serial(points, scan, out, offsets):
    act = scan[3]
    for p in range(points[0].shape[0]):
        if act.shape[0] == 0 or act[p]:
            _scan_point(p, points, scan, out, offsets[p])


@numba.njit(cache=True, nogil=True)
def _neighbour_sums(queries, points, scan, out):
    """Add to ``out`` ``(counts, sums)`` the points within the radius of each query point
    ``queries`` ``(qx, qy)``: ``points`` ``(xs, ys, labels, weights, cx, cy, start)`` laid out
    by :func:`~pipeline.geo.kernels.layout`, ``scan`` ``(stencil, cell, r2)``."""
    qx, qy = queries
    xs, ys, labels, weights, cx, cy, start = points
    stencil, cell, r2 = scan
    counts, sums = out
    mask = start.shape[0] - 2
    for i in range(qx.shape[0]):
        qcx = np.int64(math.floor(qx[i] / cell))
        qcy = np.int64(math.floor(qy[i] / cell))
        for k in range(stencil.shape[0]):
            tx = qcx + stencil[k, 0]
            ty = qcy + stencil[k, 1]
            b = bucket(tx, ty, mask)
            for q in range(start[b], start[b + 1]):
                if cx[q] == tx and cy[q] == ty:
                    dx = xs[q] - qx[i]
                    dy = ys[q] - qy[i]
                    if dx * dx + dy * dy <= r2:
                        counts[i, labels[q]] += 1
                        sums[i, labels[q]] += weights[q]


# --- Python layer: validate, lay out, call ---------------------------------------------------


def _coords(name: str, a: np.ndarray, n: int | None = None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind != "f":
        raise ValueError(
            f"{name} must be a 1-d float array; convert with {name}.astype(np.float64)"
        )
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} values but x has {n}; pass aligned arrays")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or inf; drop those rows before the join")
    return np.ascontiguousarray(a, dtype=np.float64)


def _radius(r: float) -> float:
    if not (math.isfinite(r) and r >= 0):
        raise ValueError(f"radius must be finite and >= 0 metres, got {r!r}")
    return float(r)


#: Points from which the threaded passes pay off. Below it, starting the thread pool costs more
#: than the scan and competes with the worker's other threads for the cores: a backfill of the
#: 3-hour test city (windows of thousands of points) took 21.8 s threaded and 2.5 s on one thread.
PARALLEL_MIN_POINTS = 200_000


def _passes(work: int):
    """The count and fill kernels for ``work`` scanned points: threaded from
    :data:`PARALLEL_MIN_POINTS`, else the serial twins (which release the GIL)."""
    if work < PARALLEL_MIN_POINTS:
        return _pair_counts_serial, _pair_fill_serial
    # Numba's thread count is per calling thread, so this touches no other caller's setting.
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return _pair_counts, _pair_fill


def _prepare_pairs(x, y, r, t, t_gap, active):
    x = _coords("x", x)
    y = _coords("y", y, x.shape[0])
    r = _radius(r)
    if t is None:
        t = np.zeros(x.shape[0], np.int64)
        t_gap = 0
    t = np.asarray(t)
    if t.ndim != 1 or t.dtype.kind not in "iu" or t.shape[0] != x.shape[0]:
        raise ValueError("t must be a 1-d integer array aligned with x (e.g. event_ms as int64)")
    if t_gap < 0:
        raise ValueError(f"t_gap must be >= 0 (same unit as t), got {t_gap!r}")
    if active is not None:
        active = np.asarray(active)
        if active.dtype != np.bool_ or active.shape != x.shape:
            raise ValueError("active must be a boolean mask aligned with x")
    t = t.astype(np.int64, copy=False)
    by_time = np.argsort(t, kind="stable")
    x, y, t = x[by_time], y[by_time], t[by_time]
    order, start, cx, cy = layout(x, y, max(r, MIN_CELL) * CELL_MARGIN, bucket_count(len(x)))
    xs, ys, ts = x[order], y[order], t[order]
    if active is None:
        act, cells, work = np.empty(0, np.uint8), _FORWARD, len(xs)
    else:
        act = active[by_time][order].view(np.uint8)
        cells, work = _STENCIL, int(active.sum())
    points = (xs, ys, ts, cx, cy, start)
    scan = (cells, r * r, np.int64(t_gap), act)
    return (points, scan), by_time[order], work


def count_pairs_within(
    x: np.ndarray,
    y: np.ndarray,
    r: float,
    t: np.ndarray | None = None,
    t_gap: int = 0,
    active: np.ndarray | None = None,
) -> int:
    """Number of pairs ``i < j`` within ``r`` metres (and ``|t_i - t_j| <= t_gap``), no output.

    The first pass of :func:`pairs_within` alone: what to call when only the size matters.
    """
    args, _, work = _prepare_pairs(x, y, r, t, t_gap, active)
    counts, _ = _passes(work)
    return int(counts(*args).sum())


def pairs_within(
    x: np.ndarray,
    y: np.ndarray,
    r: float,
    t: np.ndarray | None = None,
    t_gap: int = 0,
    active: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)``, ``i < j``, with ``dx² + dy² <= r²`` and, when ``t`` is given,
    ``|t_i - t_j| <= t_gap``. Returns two index arrays of equal length: int32 when there are
    fewer than 2**31 points (half the memory of int64), int64 otherwise.

    ``active`` (a boolean mask over the points): only the pairs with at least one active
    point, found by scanning from the active points alone (so the cost follows them, not
    ``len(x)``): what incremental callers need when only a few points are new.

    Two passes (count, then fill at prefix-sum offsets) so the output is allocated exactly once
    at its exact size. The pair order is deterministic for a given input order.

    >>> i, j = pairs_within(np.array([0.0, 3.0, 9.0]), np.zeros(3), r=5.0)
    >>> list(zip(i.tolist(), j.tolist()))
    [(0, 1)]
    >>> new = np.array([False, False, True])
    >>> i, j = pairs_within(np.array([0.0, 3.0, 6.0]), np.zeros(3), 5.0, active=new)
    >>> list(zip(i.tolist(), j.tolist()))
    [(1, 2)]
    """
    args, order, work = _prepare_pairs(x, y, r, t, t_gap, active)
    count_pass, fill_pass = _passes(work)
    counts = count_pass(*args)
    offsets = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    total = int(counts.sum())
    # Pair arrays dominate memory (and first-touch page faults dominate their cost): int32
    # indices halve both whenever they suffice.
    dtype = np.int32 if len(order) <= np.iinfo(np.int32).max else np.int64
    out_i = np.empty(total, dtype)
    out_j = np.empty(total, dtype)
    fill_pass(*args, (order.astype(dtype), out_i, out_j), offsets)
    return out_i, out_j


def neighbour_sums(
    qx: np.ndarray,
    qy: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    r: float,
    labels: np.ndarray,
    n_labels: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query point, the points within ``r`` metres, counted and summed per label.

    ``labels`` (ints in ``[0, n_labels)``) split the counts, e.g. by source; ``weights``
    (default 1) are summed alongside. Returns ``(counts, sums)``, both ``(len(qx), n_labels)``:
    int64 counts and float64 weight sums. Sums add points in a fixed order for a given input
    order, so the same input gives bit-identical sums.
    """
    qx = _coords("qx", qx)
    qy = _coords("qy", qy, qx.shape[0])
    x = _coords("x", x)
    y = _coords("y", y, x.shape[0])
    r = _radius(r)
    labels = np.asarray(labels)
    if labels.shape != x.shape or labels.dtype.kind not in "iu":
        raise ValueError("labels must be an integer array aligned with x (e.g. batch.source)")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_labels):
        raise ValueError(f"labels must lie in [0, {n_labels}); pass a larger n_labels")
    if weights is None:
        weights = np.ones(x.shape[0])
    weights = _coords("weights", np.asarray(weights, dtype=np.float64), x.shape[0])
    cell = max(r, MIN_CELL) * CELL_MARGIN
    order, start, cx, cy = layout(x, y, cell, bucket_count(len(x)))
    counts = np.zeros((len(qx), n_labels), np.int64)
    sums = np.zeros((len(qx), n_labels), np.float64)
    points = (x[order], y[order], labels[order].astype(np.int64), weights[order], cx, cy, start)
    _neighbour_sums((qx, qy), points, (_STENCIL, cell, r * r), (counts, sums))
    return counts, sums
