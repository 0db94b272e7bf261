"""Incremental incident linking: the buffer's ``root`` column kept as a union-find forest.

At each boundary only the alerts new since the last one are linked: each is tested against the
pending alerts no more than ``incident_gap`` away in time (a spatial hash of that slice of the
buffer only), and every linked pair is united in the forest on the spot, without writing the
pairs out. The components are those of
:func:`pipeline.correlate.incidents.incident.link_components` over all pending alerts (a component's
root is its earliest row), so results do not change; the work follows the new alerts and their
gap-neighbourhood, not every pending alert (on a dense window almost every alert is pending in
one component that never ends).

Forest invariants, kept by :class:`~pipeline.correlate.window.buffer.AlertBuffer` (append and
compact remap pointers as rows move, and keep their order): ``root[i]`` is -1 for an alert not
linked yet or already consumed, else a row ``<= i`` of the same component; a component's root
(``root[r] == r``) is its earliest row. Components are consumed whole, so every kept row's
pointer stays inside the kept rows.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pipeline.geo.kernels import CELL_MARGIN, MIN_CELL, bucket, bucket_count, lower_bound

__all__ = ["link_new", "complete_components", "earliest_last", "close_boundary"]


_NONE = np.empty(0, np.int64)
_NONE.flags.writeable = False  # shared by every call that consumes nothing

# --- kernels ---------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving: the pointer stays in the component
        i = parent[i]
    return i


@numba.njit(cache=True, nogil=True)
def _union_root(parent, ra, b):
    """Unite root ``ra`` with ``b``'s component; returns the root of the union."""
    rb = _find(parent, b)
    if ra < rb:  # the earlier row stays the root, whatever the order of the unions
        parent[rb] = ra
        return ra
    if rb < ra:
        parent[ra] = rb
    return rb


@numba.njit(cache=True, nogil=True)
def _pending_layout(x, y, t, pending, s0, hi, cell):
    """The pending rows of ``[s0, hi)`` laid out by hash bucket (stable, so each bucket stays
    in event-time order): ``(rows, xs, ys, ts, start)``.

    Every pending row of the gap is laid out again at each boundary (about ten times on a
    dense window), so this is :func:`~pipeline.geo.kernels.layout` fused with the gathers
    around it: one bucket per row, the rows and their columns written straight to their
    sorted positions (no index arrays gathered twice). Same buckets, same order.
    """
    n = 0
    for i in range(s0, hi):
        if pending[i]:
            n += 1
    size = bucket_count(n)
    mask = size - 1
    start = np.zeros(size + 1, np.int64)
    row_bucket = np.empty(hi - s0, np.int64)
    for i in range(s0, hi):
        if pending[i]:
            b = bucket(np.int64(math.floor(x[i] / cell)), np.int64(math.floor(y[i] / cell)), mask)
            row_bucket[i - s0] = b
            start[b + 1] += 1
    for b in range(size):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    rows = np.empty(n, np.int64)
    xs = np.empty(n)
    ys = np.empty(n)
    ts = np.empty(n, np.int64)
    for i in range(s0, hi):
        if pending[i]:
            b = row_bucket[i - s0]
            k = fill[b]
            fill[b] = k + 1
            rows[k], xs[k], ys[k], ts[k] = i, x[i], y[i], t[i]
    return rows, xs, ys, ts, start


@numba.njit(cache=True, nogil=True)
def _link(cols, rows, link):
    """Link the pending, unlinked rows ``rows`` ``(scan_from, hi)`` of ``cols`` ``(x, y, t,
    pending, root)`` into the forest ``root`` (in place): ``link`` ``(r2, gap, cell)``, the
    radius squared, the gap and the hash's cell width. Returns how many rows were new."""
    x, y, t, pending, root = cols
    scan_from, hi = rows
    r2, gap, cell = link
    first = -1
    for i in range(scan_from, hi):
        if pending[i] and root[i] < 0:
            first = i
            break
    if first < 0:
        return 0
    s0 = lower_bound(t, 0, first, t[first] - gap)
    new = np.zeros(hi - first, np.bool_)
    for i in range(first, hi):
        if pending[i] and root[i] < 0:
            new[i - first] = True
            root[i] = i
    rows, xs, ys, ts, start = _pending_layout(x, y, t, pending, s0, hi, cell)
    mask = start.shape[0] - 2
    n_new = 0
    for p in range(first, hi):
        if not new[p - first]:
            continue
        n_new += 1
        px, py, pt = x[p], y[p], t[p]
        rp = _find(root, p)  # kept current: the unions below all go through it
        pcx = np.int64(math.floor(px / cell))
        pcy = np.int64(math.floor(py / cell))
        for dx_cell in range(-1, 2):
            for dy_cell in range(-1, 2):
                tx, ty = pcx + dx_cell, pcy + dy_cell
                b = bucket(tx, ty, mask)
                q, end = lower_bound(ts, start[b], start[b + 1], pt - gap), start[b + 1]
                while q < end and ts[q] - pt <= gap:  # buckets are in event-time order
                    # A row whose parent is p's root is in p's component already: a union
                    # would change nothing (on a dense window, most of them). Points of other
                    # cells sharing the bucket fail the exact test below or are true
                    # neighbours found from their own cell too: a union is idempotent.
                    other = rows[q]
                    if other != p and root[other] != rp:
                        dx = xs[q] - px
                        dy = ys[q] - py
                        if dx * dx + dy * dy <= r2:
                            rp = _union_root(root, rp, other)
                    q += 1
    return n_new


@numba.njit(cache=True, nogil=True)
def _complete(pending, root, cand_lo, live_lo, hi):
    mark = np.zeros(hi, np.int8)  # by root: 1 still growing, 2 complete
    for i in range(live_lo, hi):
        if pending[i]:
            mark[_find(root, i)] = 1
    lowest = live_lo
    for i in range(cand_lo, live_lo):
        if pending[i]:
            r = _find(root, i)
            if mark[r] == 0:
                mark[r] = 2
                lowest = min(lowest, r)
    n = 0
    for i in range(lowest, live_lo):  # members lie between their root and the live rows
        if pending[i] and mark[_find(root, i)] == 2:
            n += 1
    members = np.empty(n, np.int64)
    heads = np.empty(n, np.int64)
    k = 0
    for i in range(lowest, live_lo):
        if pending[i]:
            r = _find(root, i)
            if mark[r] == 2:
                members[k] = i
                heads[k] = r
                k += 1
    return members, heads


@numba.njit(cache=True, nogil=True)
def _earliest_last(pending, root, hi):
    # From the top down, the first pending row met of each component is its last; the lowest
    # such row is the earliest last (its row; -1: none). Roots are walked without path
    # halving: a read only.
    seen = np.zeros(hi, np.int8)
    best = -1
    for i in range(hi - 1, -1, -1):
        if pending[i]:
            r = i
            while root[r] >= 0 and root[r] != r:
                r = root[r]
            if not seen[r]:
                seen[r] = 1
                best = i
    return best


@numba.njit(cache=True, nogil=True)
def _close_boundary(x, y, t, pending, root, b, prev, has_prev, r2, gap, cell, want_last, out):
    """:func:`close_boundary`'s kernel. Flat arguments of Python ints and floats, and only ints
    returned: a call a visit, and Numba's dispatch of nested tuples and NumPy scalars, and its
    boxing of returned arrays, cost more than the work on a quiet city. The ``k`` consumed
    rows go to ``out[:k]``, their roots to ``out[k:2k]``; returns ``(k, earliest last row)``."""
    n = t.shape[0]
    hi = lower_bound(t, 0, n, b + 1)  # rows up to b (event times are integers)
    lo = lower_bound(t, 0, n, prev + 1) if has_prev else 0
    if lo < hi:
        _link((x, y, t, pending, root), (lo, hi), (r2, gap, cell))
    cand_lo = lower_bound(t, 0, n, prev - gap) if has_prev else 0
    live_lo = lower_bound(t, 0, n, b - gap)
    k = 0
    for i in range(cand_lo, live_lo):
        if pending[i]:
            members, heads = _complete(pending, root, cand_lo, live_lo, hi)
            k = members.shape[0]
            for j in range(k):
                out[j] = members[j]
                out[k + j] = heads[j]
                pending[members[j]] = False
                root[members[j]] = -1
            break
    last = _earliest_last(pending, root, hi) if want_last else -1
    return k, last


# --- Python layer ----------------------------------------------------------------------------


def link_new(
    cols: dict[str, np.ndarray], scan_from: int, hi: int, radius_m: float, gap_ms: int
) -> int:
    """Link the pending, unlinked rows of ``[scan_from, hi)`` into the forest ``cols["root"]``
    (updated in place); returns how many there were.

    ``cols``: the buffer's ``x``, ``y``, ``event_ms``, ``pending`` and ``root`` columns (rows
    in canonical order). Rows before ``scan_from`` must be linked or not pending, and the
    linked rows' components must be those of their links among themselves (what this
    function leaves behind).
    """
    if not (math.isfinite(radius_m) and radius_m >= 0) or gap_ms < 0:
        raise ValueError(
            f"radius_m must be finite and >= 0 and gap_ms >= 0, got {radius_m!r}, {gap_ms!r}"
        )
    cell = max(float(radius_m), MIN_CELL) * CELL_MARGIN
    columns = (cols["x"], cols["y"], cols["event_ms"], cols["pending"], cols["root"])
    return int(_link(columns, (scan_from, hi), (float(radius_m) ** 2, np.int64(gap_ms), cell)))


def complete_components(
    cols: dict[str, np.ndarray], cand_lo: int, live_lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Components that can no longer grow, among those with a pending row in
    ``[cand_lo, live_lo)``: no pending row of theirs lies in ``[live_lo, hi)`` (the rows
    within the gap of the boundary). Every pending row up to ``hi`` must be linked.

    Returns ``(members, roots)``: their rows (ascending) and each one's root row.
    """
    if not 0 <= cand_lo and cand_lo <= live_lo <= hi:
        raise ValueError(f"need 0 <= cand_lo <= live_lo <= hi, got {cand_lo}, {live_lo}, {hi}")
    if cand_lo == live_lo:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return _complete(cols["pending"], cols["root"], cand_lo, live_lo, hi)


def earliest_last(cols: dict[str, np.ndarray], hi: int) -> int | None:
    """The earliest event time at which a component of the pending rows below ``hi`` has its
    last row (None: no pending row). No component completes at a boundary until that time is
    more than the gap before it, so the boundaries up to then need no incident check: a
    component's first row, which the engine's skip used, is earlier for every component of
    two alerts or more, and made it visit each boundary until the last one's gap had passed.
    Every pending row below ``hi`` must be linked (an unlinked row counts as its own)."""
    if not 0 <= hi <= len(cols["pending"]):
        raise ValueError(f"need 0 <= hi <= {len(cols['pending'])} rows, got {hi}")
    last = int(_earliest_last(cols["pending"], cols["root"], hi))
    return None if last < 0 else int(cols["event_ms"][last])


def close_boundary(
    cols: dict[str, np.ndarray],
    b: int,
    prev: int | None,
    radius_m: float,
    gap_ms: int,
    want_last: bool = True,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """The incident step of boundary ``b`` in one kernel call (a quiet city visits a boundary
    for about every alert, and the Python around several calls cost more than their work):
    :func:`link_new` of the rows after the last boundary ``prev`` (None: the first), then
    :func:`complete_components` of those with a pending row from the gap before ``prev`` up to
    the gap before ``b``, consumed (``pending`` False, ``root`` -1), then :func:`earliest_last`
    of the pending rows up to ``b`` (None where none, or not ``want_last``).

    ``cols``: the buffer's ``x``, ``y``, ``event_ms``, ``pending`` and ``root`` columns, rows in
    canonical order, linked up to ``prev`` as this function leaves them. ``out``: int64 scratch
    of at least twice the rows (None: allocated here; the engine keeps one). Returns
    ``(members, heads, last)``: the consumed rows (ascending), each one's root row, and the
    earliest last.
    """
    if not (math.isfinite(radius_m) and radius_m >= 0) or gap_ms < 0:
        raise ValueError(
            f"radius_m must be finite and >= 0 and gap_ms >= 0, got {radius_m!r}, {gap_ms!r}"
        )
    t = cols["event_ms"]
    if out is None:
        out = np.empty(2 * len(t), np.int64)
    elif len(out) < 2 * len(t) or out.dtype != np.int64:
        raise ValueError(f"out must be int64 with at least {2 * len(t)} entries (2 per row)")
    cell = max(float(radius_m), MIN_CELL) * CELL_MARGIN
    k, last = _close_boundary(
        cols["x"],
        cols["y"],
        t,
        cols["pending"],
        cols["root"],
        int(b),
        0 if prev is None else int(prev),
        prev is not None,
        float(radius_m) ** 2,
        int(gap_ms),
        cell,
        bool(want_last),
        out,
    )
    if k:
        members, heads = out[:k].copy(), out[k : 2 * k].copy()
    else:
        members = heads = _NONE
    return members, heads, (None if last < 0 else int(t[last]))
