"""How many effective cell tests a city makes a day, from its fitted baseline, and the opening
thresholds that follow from it (issue 23, item 3: sensitive where the city is sparse).

A flag's recurrence interval is ``1 / (p x effective tests a day)`` and the opening bar is a
minimum interval (``min_recurrence_days``), so the bar on ``p`` must come from the city's own
number of tests. The constant ``cell_tests_per_day`` (1.8e4) was measured on the dense
benchmark city; a sparse city (about 100 alerts a day over 1,000 km²) makes about 0.2 new tests
a day, 100,000 times fewer. With the dense city's bars there (p <= 2.8e-3, and the score bar
``open_score`` 3, p <= 1e-3 for one feed), a cluster of 3 alerts within 250 m, whose p-value
there is 2e-3 to 4e-2 (negative binomial with the sparse history's dispersion, 2 to 4),
cannot open a flag, though chance would produce one every few thousand days; the 4th alert,
about 10 minutes later in a cluster of 6 in an hour, is what opened flags (median delay after
the 3rd alert 6.2 minutes, benchmarks/sparse_detection.py).

**The estimate.** A new test (:mod:`.new_tests`) is a slide in which an event enters a cell
whose largest disk (``max(radii_m)``, ``window_s``) holds at least ``min_count`` (2) events.
For each cell of the fitted table and hour of week: ``enter = 60 (1 - exp(-lambda / 60))``
slides an hour with an event entering (``lambda``: the cell's expected events an hour), times
``1 - exp(-mu (1 + alpha))``, the chance that the disk holds another (``mu``: the disk's expected
count over the window; ``1 + alpha`` the size bias of the negative-binomial baseline given one
event). Summed over cells and the week, over 7, times ``EFFECTIVE_PER_NEW_TEST``. On the dense
benchmark city this gives 72,400 new tests a day (71,000 counted on its quiet days, see
:data:`.tally.EFFECTIVE_PER_NEW_TEST`), 18,100 effective, the constant it replaces; on the sparse
cities 0.7-0.8 new tests a day (0.4 counted on their quiet weeks: the estimate errs on the side
of more tests, a stricter bar). It depends on the baseline only, so every partition, restart
and batch cut gets the same figure.

**The thresholds** (:func:`city_params`), with ``s = city tests / cell_tests_per_day``:

* ``cell_tests_per_day``: the city's figure, so ``recurrence_days`` and ``open_p_max`` are the
  city's;
* ``open_score`` and ``close_score`` shifted by ``log10(s)``: for one feed at mean severity
  0.5 the score bar is the p-value bar ``10**-open_score``, chosen for the reference city's
  number of tests; scaled with the tests it lets through the same expected chance flags per
  test budget as ``open_p_max`` does. On the dense city ``s`` is about 1 and nothing moves;
* a ceiling (``CorrelationParams.open_p_max``): ``p <= OPEN_P_CEILING`` (0.05) in any city,
  so a flag never opens on a count at ``min_count``, whose conditional p-value is exactly 1
  (calm boundaries stay unable to open one, which lets the engine skip them), nor on a count
  a single test calls ordinary.

A baseline without a fitted table (the learning prior) gives None: the constant stays.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import replace

import numpy as np

from ..baseline.history import CellHourBaseline
from ..baseline.model import HOURS_PER_WEEK, Baseline
from ..params import OPEN_P_CEILING, CorrelationParams
from .tally import EFFECTIVE_PER_NEW_TEST

__all__ = ["OPEN_P_CEILING", "city_params", "city_tests_per_day"]


#: per baseline, its figure by the params it depends on: a backfill builds a correlator per
#: partition on one baseline, and the sum over a dense city's table takes about 0.1 s
_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def city_tests_per_day(baseline: Baseline, params: CorrelationParams) -> float | None:
    """Effective cell tests a day the scan makes in the city of ``baseline`` (see the module
    docstring); None where the baseline has no fitted table. Vectorised over the table's cells,
    a loop over the 168 hours of the week."""
    if not isinstance(baseline, CellHourBaseline):
        return None
    key = (max(params.radii_m), params.window_s, params.slide_s)
    memo = _MEMO.setdefault(baseline, {})
    if key not in memo:
        memo[key] = _tests_per_day(baseline, params)
    return memo[key]


def _tests_per_day(baseline: CellHourBaseline, params: CorrelationParams) -> float | None:
    ids, table, _ = baseline.rows()
    if not len(ids):
        return None
    radius = max(params.radii_m)
    disk = baseline.disks.get(float(radius))
    disk_km2 = math.pi * (radius / 1000.0) ** 2
    window_h = params.window_s / 3600.0
    slides = 3600.0 / params.slide_s
    size_bias = 1.0 + baseline.dispersion
    new_per_week = 0.0
    for how in range(HOURS_PER_WEEK):  # loop per hour of week
        lam = table[:, how] * baseline.cell_km2  # events an hour entering each cell
        rate = disk.expected(ids, how) if disk is not None else table[:, how]
        mu = rate * disk_km2 * window_h
        enter = slides * -np.expm1(-lam / slides)
        new_per_week += float((enter * -np.expm1(-mu * size_bias)).sum())
    return new_per_week / 7.0 * EFFECTIVE_PER_NEW_TEST


def city_params(params: CorrelationParams, baseline: Baseline) -> CorrelationParams:
    """``params`` with the opening thresholds of the city of ``baseline`` (module docstring);
    ``params`` itself where ``tests_from_baseline`` is off or the baseline has no table."""
    if not params.tests_from_baseline or params.min_recurrence_days <= 0:
        return params
    tests = city_tests_per_day(baseline, params)
    if tests is None or not tests > 0:
        return params
    shift = math.log10(tests / params.cell_tests_per_day)
    open_score = max(params.open_score + shift, 0.0)
    return replace(
        params,
        cell_tests_per_day=tests,
        open_score=open_score,
        close_score=min(max(params.close_score + shift, 0.0), open_score),
    )
