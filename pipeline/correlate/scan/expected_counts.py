"""Expected counts of every scale's disk around every scored cell, in one kernel call, for a
baseline whose rate is a level per cell times an hour-of-week factor (the plain
:class:`~pipeline.correlate.baseline.model.Baseline`, learning or not).

For each cell and scale ``(w, r)``: the mean of ``level(c) * profile[hour]`` over the cells
``c`` of the ``r`` disk (in :meth:`~pipeline.correlate.lattice.Lattice.disk_offsets` order),
times the disk area and the hours of the window in that hour of week, summed over the one or
two hours of week the window overlaps. This is what scoring's ``_expected_counts`` computes
through :class:`~pipeline.correlate.baseline.rate_cache.DiskRateCache`, the same operations in
the same order: the mean sums each disk's values as NumPy's row sum does (pairwise, eight
accumulators), so the bits are the same. The kernel releases the GIL; a learning baseline
moves at every slide, so this runs afresh at every boundary.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from pipeline.geo.kernels import lower_bound, pack_cell, unpack_cell

from ..baseline.model import Baseline, hour_of_week
from ..lattice import Lattice
from ..params import CorrelationParams

__all__ = ["PAIRWISE_MAX", "factored_expectations", "pairwise_sum"]

_HOUR_MS = 3_600_000
#: The most cells a disk may have here (NumPy's pairwise-summation block); larger disks take
#: scoring's general path.
PAIRWISE_MAX = 128


# --- kernels ---------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def pairwise_sum(v, lo, n):
    """``v[lo:lo + n].sum()`` as NumPy sums a contiguous float64 row of at most 128 values
    (its ``pairwise_sum``: eight accumulators, then the rest in order). Longer rows split in
    halves there; recursion is not cached reliably by Numba, so callers keep to 128."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += v[i]
        return res
    r0, r1, r2, r3 = v[lo], v[lo + 1], v[lo + 2], v[lo + 3]
    r4, r5, r6, r7 = v[lo + 4], v[lo + 5], v[lo + 6], v[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += v[lo + i]
        r1 += v[lo + i + 1]
        r2 += v[lo + i + 2]
        r3 += v[lo + i + 3]
        r4 += v[lo + i + 4]
        r5 += v[lo + i + 5]
        r6 += v[lo + i + 6]
        r7 += v[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += v[lo + i]
        i += 1
    return res


@numba.njit(cache=True, nogil=True)
def _gallop(a, start, x):
    """First index ``>= start`` where the sorted ``a`` is ``>= x``, searching forward from
    ``start`` (every value before it is below ``x``) in doubling steps."""
    n = a.shape[0]
    lo = hi = start
    step = 1
    while hi < n and a[hi] < x:
        lo = hi + 1
        hi = lo + step
        step *= 2
    return lower_bound(a, lo, min(hi, n), x)


@numba.njit(cache=True, nogil=True)
def _expected(cell_id, disk, levels, scales):
    """``disk``: offsets of the largest disk ``(k, 2)``, and per radius the positions of its
    own offsets among them (``cols`` row, ``n_cols``); ``levels``: the baseline's sorted cell
    ids, their counts, and the scalars of :meth:`Baseline.levels`; ``scales``: the distinct
    (radius, profile factor) pairs of the boundary's windows (``key_radius``,
    ``key_factor``), and per scale its disk km² and its hour segments
    ``seg_ptr[s]:seg_ptr[s + 1]`` (pair, hours of overlap)."""
    offsets, cols, n_cols = disk
    ids, counts, cell_km2, prior, exposure = levels
    key_radius, key_factor, disk_km2, seg_ptr, seg_key, seg_hours = scales
    n, n_off, n_scales = cell_id.shape[0], offsets.shape[0], disk_km2.shape[0]
    # The level of every disk cell. The cells at one offset from sorted cells are sorted
    # too, so each offset walks the baseline's ids once.
    level = np.empty((n, n_off))
    for o in range(n_off):
        pos = 0
        for i in range(n):
            ix, iy = unpack_cell(cell_id[i])
            cell = pack_cell(ix + offsets[o, 0], iy + offsets[o, 1])
            pos = _gallop(ids, pos, cell)
            c = counts[pos] if pos < ids.shape[0] and ids[pos] == cell else 0.0
            level[i, o] = (c / cell_km2 + prior) / exposure
    out = np.zeros((n, n_scales))
    rate = np.empty(key_radius.shape[0])
    values = np.empty(n_off)
    for i in range(n):
        for k in range(key_radius.shape[0]):  # the disk's rate at each (radius, hour)
            j = key_radius[k]
            for c in range(n_cols[j]):
                values[c] = level[i, cols[j, c]] * key_factor[k]
            rate[k] = pairwise_sum(values, 0, n_cols[j]) / n_cols[j]
        for s in range(n_scales):
            total = 0.0
            for g in range(seg_ptr[s], seg_ptr[s + 1]):
                total += rate[seg_key[g]] * disk_km2[s] * seg_hours[g]
            out[i, s] = total
    return out


# --- Python layer ------------------------------------------------------------------------------


def _factors(baseline: Baseline) -> bool:
    """Whether the baseline's rates are its levels times the profile, with no disk model."""
    kind = type(baseline)
    return (
        kind.expected is Baseline.expected
        and kind.levels is Baseline.levels
        and kind.disk_rates is Baseline.disk_rates
    )


@lru_cache(maxsize=16)
def _disk(lattice: Lattice, radii_m: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Offsets of the largest disk, and each radius's offsets as positions among them."""
    largest = lattice.disk_offsets(max(radii_m))
    at = {tuple(o): k for k, o in enumerate(largest.tolist())}
    cols = np.zeros((len(radii_m), len(largest)), np.int64)
    n_cols = np.zeros(len(radii_m), np.int64)
    for j, r in enumerate(radii_m):  # loop per radius: two by default
        own = [at[tuple(o)] for o in lattice.disk_offsets(r).tolist()]
        cols[j, : len(own)] = own
        n_cols[j] = len(own)
    out = (np.array(largest, np.int64), cols, n_cols)
    for a in out:
        a.flags.writeable = False  # memoised: shared by every call
    return out


def factored_expectations(
    baseline: Baseline,
    lattice: Lattice,
    cell_id: np.ndarray,
    boundary_ms: int,
    params: CorrelationParams,
) -> np.ndarray | None:
    """Expected counts ``(cells, scales)`` (``params.scales`` order) of the cells
    ``cell_id`` (sorted, unique) over the windows ending at ``boundary_ms``; None when the
    baseline's rates do not factor (scoring then takes its general path)."""
    radii = tuple(float(r) for r in params.radii_m)
    if not _factors(baseline) or len(lattice.disk_offsets(max(radii))) > PAIRWISE_MAX:
        return None
    scales = params.scales
    spans = [(boundary_ms - w * 1000, boundary_ms) for w, _ in scales]
    starts = [[h for h in range(a - a % _HOUR_MS, z, _HOUR_MS)] for a, z in spans]
    hows = iter(hour_of_week(np.array(sum(starts, []), np.int64), params.utc_offset_min).tolist())
    keys: dict[tuple[int, int], int] = {}  # (radius, hour of week) -> pair
    seg_ptr, seg_key, seg_hours = [0], [], []
    for (_, r), (a, z), hours in zip(scales, spans, starts, strict=True):  # six by default
        for hour in hours:  # one or two hours of week per window
            key = keys.setdefault((radii.index(float(r)), next(hows)), len(keys))
            seg_key.append(key)
            seg_hours.append((min(hour + _HOUR_MS, z) - max(hour, a)) / _HOUR_MS)
        seg_ptr.append(len(seg_key))
    terms = baseline.level_terms()
    return _expected(
        np.ascontiguousarray(cell_id, np.int64),
        _disk(lattice, radii),
        (terms.ids, terms.counts, terms.cell_km2, terms.prior, terms.exposure),
        (
            np.array([j for j, _ in keys], np.int64),
            np.array([baseline.profile[h] for _, h in keys], np.float64),
            np.array([np.pi * (r / 1000.0) ** 2 for _, r in scales], np.float64),
            np.array(seg_ptr, np.int64),
            np.array(seg_key, np.int64),
            np.array(seg_hours, np.float64),
        ),
    )
