"""Hotspot scores of lattice cells at one slide boundary: a prospective space-time scan over
a few scales.

For each tested cell (one holding a counted alert, or anchoring an open flag) and each scale
``(w, r)`` of ``params.windows_s`` x ``params.radii_m``:

* ``count``: events with severity > 0 within ``r`` metres of the cell centre in the last ``w``
  seconds, an event being an alert that repeats no earlier one
  (:mod:`pipeline.correlate.window.bursts`); ``n_sources`` the distinct feeds among them;
  ``mean_severity`` their mean severity. The engine keeps these counts up to date from
  boundary to boundary
  (:mod:`pipeline.correlate.scan.scale_counts`, :func:`score_scale_counts`); :func:`score_cells`
  computes them afresh, one neighbour join per radius (rows carry their window as part of the
  label), and is the reference the kept counts are tested against.
* ``expected``: the baseline's count for that disk and window, integrated over the hours of
  week the window overlaps: the disk's own fitted rate where the baseline has one
  (:mod:`pipeline.correlate.baseline.disks`), else the mean rate of the cells whose centres lie
  in the disk, times the disk area.
* the scale's p-value: upper tail ``P(X >= count | expected)`` on the raw count, so the test
  stays a calibrated count test (severity and corroboration enter the score, not the test).
  ``X`` is negative binomial with mean ``expected`` and variance
  ``expected + alpha * expected**2``, ``alpha`` the baseline's ``dispersion`` (fitted from
  history); ``alpha = 0`` is the Poisson tail. A flag needs ``min_count`` events, so only
  scales holding that many are *tested*, each by its tail given that it reached ``min_count``
  (:func:`selective_upper_tail`); the others get p-value 1.

Each cell keeps its most significant tested scale, by the weighted p-value below
(``window_s``, ``radius_m``; ties to the shortest window, then the smallest disk; a cell tested
at no scale keeps the scale of its smallest plain tail), and its counts, expectation and
sources at that scale.

* ``p_value``: a weighted Bonferroni across the scales tested at the cell: each scale's p-value
  times the summed weight of the tested scales over its own (``params.scale_weights``: a
  window weighs ``window_weight_ratio`` times the next longer one; with equal weights, times
  the number tested), the smallest product, capped at 1. That scale is the cell's best.
* ``significant``: Benjamini-Hochberg at ``bh_q`` over those p-values of the cells tested at
  this boundary; ``n_tests`` counts every (cell, scale) test made.
* ``score = -log10(p_value) * (1 + gain * (n_corroborating - 1)) * (0.5 + mean_severity)``:
  increasing in the count, in the number of corroborating feeds and in severity, decreasing in
  the expected count. A single feed at mean severity 0.5 scores exactly ``-log10(p_value)``.
  A feed corroborates when it holds at least ``corroboration_min_events`` (default 2; 1 counts
  every feed in the disk) of the disk's events at the best scale. In the dense benchmark city
  one feed (cameras) brings about 19 events in 20, so a disk of 13 events holds a lone alert
  of another feed about half the time by chance; docs/detection.md gives what requiring 2
  does.
* ``gi_z``: Getis-Ord Gi* of per-cell counts over the rectangle of tested cells (disk of
  ``hotspot_radius_m``), a secondary statistic reported on flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betainc, gammainc

from pipeline.alerts import SOURCES
from pipeline.geo.spatial_hash import neighbour_sums

from ..baseline.model import Baseline, hour_of_week
from ..baseline.rate_cache import DiskRateCache
from ..lattice import Lattice
from ..params import CorrelationParams
from .expected_counts import factored_expectations
from .getis_ord import gi_star_cells
from .new_tests import entered_cells
from .scale_counts import Rows, ScaleCounts
from .scale_tests import cell_tests

__all__ = [
    "CellScores",
    "poisson_upper_tail",
    "count_upper_tail",
    "benjamini_hochberg",
    "selective_upper_tail",
    "hotspot_score",
    "score_cells",
    "score_scale_counts",
]

_HOUR_MS = 3_600_000
_TINY_P = 1e-300  # keeps -log10(p) finite when the tail underflows
# Gi* runs on the rectangle around the tested cells; a stray far-away alert could make that
# rectangle huge, and a statistic over mostly empty land means little, so beyond this: NaN.
_MAX_GI_CELLS = 4_000_000


@dataclass(frozen=True, slots=True)
class CellScores:
    """Per tested cell, sorted by ``cell_id``; every field is an array of the same length."""

    cell_id: np.ndarray
    ix: np.ndarray
    iy: np.ndarray
    count: np.ndarray
    n_sources: np.ndarray
    mean_severity: np.ndarray
    expected: np.ndarray
    p_value: np.ndarray
    significant: np.ndarray
    score: np.ndarray
    gi_z: np.ndarray
    window_s: np.ndarray  # the scale each cell was scored at: window (s) ...
    radius_m: np.ndarray  # ... and disk radius (m)
    n_tests: int = 0  # tests at this boundary: tested cells x scales (Bonferroni, then BH)
    #: per cell, whether it was tested at any scale (a cell test: what a flag's p-value is
    #: Bonferroni-corrected to); None where the scores were made without the scan kernel
    tested: np.ndarray | None = None
    #: per cell, whether an event entered the cell in the last slide, i.e. whether
    #: its test is a new one (:mod:`.new_tests`); None where the caller did not say what
    #: entered
    new_test: np.ndarray | None = None

    def find(self, cell_id: int) -> int:
        """Row of ``cell_id`` (it must have been tested)."""
        return int(np.searchsorted(self.cell_id, cell_id))


def poisson_upper_tail(count: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``P(X >= count)`` for ``X ~ Poisson(expected)``; 1 where ``count <= 0``.

    Uses the identity ``P(X >= k) = P(k, mu)``, the regularised lower incomplete gamma.

    >>> poisson_upper_tail(np.array([0, 1, 3]), np.array([2.0, 2.0, 2.0])).round(6).tolist()
    [1.0, 0.864665, 0.323324]
    """
    return _tail_where_counted(count, expected, gammainc)


def count_upper_tail(count: np.ndarray, expected: np.ndarray, alpha: float) -> np.ndarray:
    """``P(X >= count)`` for ``X`` negative binomial (NB2) with mean ``expected`` and variance
    ``expected + alpha * expected**2``; the Poisson tail when ``alpha == 0``; 1 where
    ``count <= 0``.

    With ``r = 1 / alpha``, ``P(X >= k) = I_x(k, r)`` at ``x = mu / (mu + r)``, the regularised
    incomplete beta: computed as a lower tail, so tiny p-values keep their precision.

    >>> count_upper_tail(np.array([0, 1, 3]), np.array([2.0, 2.0, 2.0]), 0.5).round(6).tolist()
    [1.0, 0.75, 0.3125]
    """
    if alpha < 0:
        raise ValueError(f"dispersion alpha must be >= 0, got {alpha!r}")
    if alpha == 0:
        return poisson_upper_tail(count, expected)
    r = 1.0 / alpha
    return _tail_where_counted(count, expected, lambda k, mu: betainc(k, r, mu / (mu + r)))


def _tail_where_counted(count, expected, tail) -> np.ndarray:
    """``tail(max(count, 1), expected)`` where ``count > 0``, 1 elsewhere (broadcast). The
    special function runs on the counted entries only (many scales of a cell hold none), and
    is element-wise, so each value is the one a call over every entry gives."""
    count, expected = np.broadcast_arrays(
        np.asarray(count, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    )
    out = np.ones(count.shape)
    counted = count > 0
    out[counted] = tail(np.maximum(count[counted], 1.0), expected[counted])
    return out


def selective_upper_tail(
    tail: np.ndarray, count: np.ndarray, expected: np.ndarray, alpha: float, min_count: int
) -> np.ndarray:
    """``P(X >= count | X >= min_count)`` from ``tail = P(X >= count)`` where
    ``count >= min_count``; 1 (not tested) elsewhere. ``X`` as in :func:`count_upper_tail`.

    A flag needs ``min_count`` events, so only the scales that reach it are tested, and each
    by its tail *given* that it reached it. Under the null such a p-value is valid among the
    selected tests (uniform, or conservative for discrete counts), so Benjamini-Hochberg over
    them keeps its meaning, while the many scales holding one alert no longer raise the bar
    for the rest. A sparse disk (expected 0.01) that just reached ``min_count`` is then
    nothing special (conditional p-value 1), where the plain tail called 3 alerts there a
    2e-7 event.

    >>> count, mu = np.array([2, 3, 5]), np.full(3, 2.0)
    >>> selective_upper_tail(count_upper_tail(count, mu, 0.0), count, mu, 0.0, 3).round(6)
    array([1.      , 1.      , 0.162849])
    """
    tail, count, expected = np.broadcast_arrays(
        np.asarray(tail), np.asarray(count), np.asarray(expected)
    )
    out = np.ones(tail.shape, tail.dtype)
    sel = count >= min_count  # only these are tested: the reach of the rest is not needed
    reach = count_upper_tail(np.full(int(sel.sum()), min_count), expected[sel], alpha)
    conditional = np.divide(tail[sel], reach, out=np.ones(len(reach), tail.dtype), where=reach > 0)
    out[sel] = np.minimum(conditional, 1.0)
    return out


def benjamini_hochberg(p: np.ndarray, q: float) -> np.ndarray:
    """Boolean mask of discoveries at false discovery rate ``q`` (step-up procedure).

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]), 0.05).tolist()
    [True, False, False, False]
    """
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    below = p[order] <= q * np.arange(1, m + 1) / m
    k = np.flatnonzero(below).max() + 1 if below.any() else 0
    out = np.zeros(m, bool)
    out[order[:k]] = True
    return out


def hotspot_score(
    p: np.ndarray, n_sources: np.ndarray, mean_severity: np.ndarray, gain: float
) -> np.ndarray:
    """``-log10(p) * (1 + gain * (n_sources - 1)) * (0.5 + mean_severity)``."""
    corroboration = 1.0 + gain * np.maximum(np.asarray(n_sources) - 1, 0)
    return -np.log10(np.maximum(p, _TINY_P)) * corroboration * (0.5 + mean_severity)


def _expected_counts(
    baseline: Baseline,
    lattice: Lattice,
    ix: np.ndarray,
    iy: np.ndarray,
    start_ms: int,
    end_ms: int,
    radius_m: float,
    params: CorrelationParams,
    rates: DiskRateCache | None = None,
    seen: dict[tuple[int, float], np.ndarray] | None = None,
    cell_id: np.ndarray | None = None,
) -> np.ndarray:
    """Baseline count for the ``radius_m`` disk of each cell (unique, sorted by cell id) over
    the window ``(start_ms, end_ms]``: the disk's rate
    (:mod:`pipeline.correlate.baseline.rate_cache`; ``rates`` memoises them) times the disk
    area, integrated over the hours of week the window overlaps. ``seen``: rates of these same
    cells by ``(hour of week, radius)``, shared by the windows of one boundary (they overlap
    the same hours); ``cell_id``: the cells' ids when the caller has them
    (``lattice.cell_id(ix, iy)``)."""
    if rates is None or rates.baseline is not baseline or rates.lattice != lattice:
        rates = DiskRateCache(baseline, lattice)
    seen = {} if seen is None else seen
    cell_id = lattice.cell_id(ix, iy) if cell_id is None else cell_id
    disk_km2 = np.pi * (radius_m / 1000.0) ** 2
    total = np.zeros(len(cell_id))
    for hour in range(start_ms - start_ms % _HOUR_MS, end_ms, _HOUR_MS):  # 1-2 hours per window
        overlap_h = (min(hour + _HOUR_MS, end_ms) - max(hour, start_ms)) / _HOUR_MS
        key = (int(hour_of_week(hour, params.utc_offset_min)), float(radius_m))
        if key not in seen:
            seen[key] = rates.rates(cell_id, *key)
        total += seen[key] * disk_km2 * overlap_h
    return total


def _scale_counts(
    cx: np.ndarray,
    cy: np.ndarray,
    rows: dict[str, np.ndarray],
    boundary_ms: int,
    params: CorrelationParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell and scale (``params.scales`` order): counts by source and severity sums.

    One neighbour join per radius: each row is labelled with its source and the shortest
    window holding it, and cumulative sums over the windows give the nested window counts.
    Returns ``(by_src, sev)`` of shapes ``(cells, scales, sources)`` and ``(cells, scales)``.
    """
    n_src, n_win = len(SOURCES), len(params.windows_s)
    age = boundary_ms - rows["event_ms"]  # in [0, window_ms) for the rows passed in
    bins = np.searchsorted(np.asarray(params.windows_s, np.int64) * 1000, age, side="right")
    bins = np.minimum(bins, n_win - 1)  # rows older than the longest window do not occur
    labels = rows["source"].astype(np.int64) * n_win + bins
    del age, bins  # a window of a million alerts: every temporary is 8 MB
    by_src = np.zeros((len(cx), n_win, len(params.radii_m), n_src), np.int64)
    sev = np.zeros((len(cx), n_win, len(params.radii_m)))
    for j, radius in enumerate(params.radii_m):  # loop per radius: two by default
        c, w = neighbour_sums(
            cx, cy, rows["x"], rows["y"], radius, labels, n_src * n_win, rows["severity"]
        )
        c = c.reshape(len(cx), n_src, n_win).transpose(0, 2, 1)
        by_src[:, :, j, :] = np.cumsum(c, axis=1)
        sev[:, :, j] = np.cumsum(w.reshape(len(cx), n_src, n_win).sum(axis=1), axis=1)
    n_scales = n_win * len(params.radii_m)  # explicit: -1 cannot be inferred for 0 cells
    return by_src.reshape(len(cx), n_scales, n_src), sev.reshape(len(cx), n_scales)


def score_cells(
    rows: dict[str, np.ndarray],
    extra_cells: np.ndarray,
    lattice: Lattice,
    baseline: Baseline,
    boundary_ms: int,
    params: CorrelationParams,
    rates: DiskRateCache | None = None,
    entered: Rows | None = None,
) -> CellScores:
    """Scores of the cells holding counted ``rows`` (the window's alerts with severity > 0,
    in canonical order) plus ``extra_cells`` (ids of open flags' cells), each at its most
    significant scale of ``params.scales``. ``rates``: a memo of ``baseline``'s disk rates
    kept across slides (the engine keeps one); by default one for this call only.
    ``entered``: the rows of the last slide, which make ``new_test`` (:mod:`.new_tests`).

    The batch form, joining every row: the engine keeps the same counts up to date instead
    (:func:`score_scale_counts`), and this is the reference it is tested against."""
    point_cells = lattice.cell_id(*lattice.index(rows["x"], rows["y"]))
    cell_id = np.union1d(point_cells, extra_cells).astype(np.int64)
    cx, cy = lattice.centre(*lattice.unpack(cell_id))
    by_src, sev = _scale_counts(cx, cy, rows, boundary_ms, params)
    own_cells, own_n = np.unique(point_cells, return_counts=True)
    return _score(
        cell_id, by_src, sev, own_cells, own_n, lattice, baseline, boundary_ms, params, rates,
        entered,
    )  # fmt: skip


def score_scale_counts(
    counts: ScaleCounts,
    extra_cells: np.ndarray,
    lattice: Lattice,
    baseline: Baseline,
    boundary_ms: int,
    params: CorrelationParams,
    rates: DiskRateCache | None = None,
    entered: Rows | None = None,
) -> CellScores:
    """:func:`score_cells` from counts kept up to date (``counts`` as of ``boundary_ms``): the
    same cells and outputs, bit for bit, without joining the window's rows."""
    cell_id, by_src, sev, own = counts.gather(extra_cells)
    held = own > 0
    return _score(
        cell_id,
        by_src,
        sev,
        cell_id[held],
        own[held],
        lattice,
        baseline,
        boundary_ms,
        params,
        rates,
        entered,
    )


def _expected_all(
    baseline: Baseline,
    lattice: Lattice,
    cell_id: np.ndarray,
    boundary_ms: int,
    params: CorrelationParams,
    rates: DiskRateCache | None,
) -> np.ndarray:
    """Expected counts ``(cells, scales)`` of any baseline, scale by scale (the memo ``rates``
    shares the disk rates of the hours the windows have in common)."""
    if rates is None or rates.baseline is not baseline or rates.lattice != lattice:
        rates = DiskRateCache(baseline, lattice)  # shared by the windows of this call at least
    ix, iy = lattice.unpack(cell_id)
    seen: dict[tuple[int, float], np.ndarray] = {}
    columns = [
        _expected_counts(
            baseline, lattice, ix, iy, boundary_ms - w * 1000, boundary_ms, r, params, rates,
            seen, cell_id,
        )
        for w, r in params.scales
    ]  # fmt: skip
    return np.stack(columns, axis=1).reshape(len(cell_id), len(params.scales))


def _score(
    cell_id: np.ndarray,
    by_src: np.ndarray,
    sev: np.ndarray,
    own_cells: np.ndarray,
    own_n: np.ndarray,
    lattice: Lattice,
    baseline: Baseline,
    boundary_ms: int,
    params: CorrelationParams,
    rates: DiskRateCache | None,
    entered: Rows | None = None,
) -> CellScores:
    """Scores of cells ``cell_id`` (sorted) from their counts by scale and source ``by_src``,
    severity sums ``sev``, and the own counts ``own_n`` of the cells ``own_cells`` holding
    events (for Gi*); ``entered``: the rows of the last slide (for ``new_test``)."""
    ix, iy = lattice.unpack(cell_id)
    scales = params.scales
    expected_all = factored_expectations(baseline, lattice, cell_id, boundary_ms, params)
    if expected_all is None:  # a baseline with its own rates per cell and hour, or per disk
        expected_all = _expected_all(baseline, lattice, cell_id, boundary_ms, params, rates)
    tests = cell_tests(
        by_src, sev, expected_all, baseline.dispersion, params.min_count, params.bh_q,
        params.corroboration_min_events, params.scale_weights,
    )  # fmt: skip
    score = hotspot_score(
        tests.p_value, tests.n_corroborating, tests.mean_severity, params.corroboration_gain
    )
    # Gi* of the own counts over the rectangle of the scored cells
    uix, uiy = lattice.unpack(own_cells)
    offsets = lattice.disk_offsets(params.hotspot_radius_m)
    gi_z = gi_star_cells(uix, uiy, own_n.astype(np.float64), ix, iy, offsets, _MAX_GI_CELLS)
    new_test = None
    if entered is not None:
        new_test = entered_cells(cell_id, lattice, entered)
    scale_w = np.array([w for w, _ in scales], np.int64)
    scale_r = np.array([r for _, r in scales], np.float64)
    return CellScores(
        cell_id=cell_id,
        ix=ix,
        iy=iy,
        count=tests.count,
        n_sources=tests.n_sources,
        mean_severity=tests.mean_severity,
        expected=tests.expected,
        p_value=tests.p_value,
        significant=tests.significant,
        score=score,
        gi_z=gi_z,
        window_s=scale_w[tests.best],
        radius_m=scale_r[tests.best],
        n_tests=int(tests.n_tests),
        tested=tests.scales_tested > 0,
        new_test=new_test,
    )
