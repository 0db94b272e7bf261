"""A history replay fitted the way ``hotspot baseline fit`` fits a warehouse period.

The replay is backfilled into memory without correlating (the alerts ``hotspot backfill
--no-correlate`` would store), and the alerts of the period go to the same fit,
:func:`~pipeline.correlate.baseline.district_fit.fit_by_district`. The demo fits its simulated
history this way before the live run, and ``hotspot evaluate --history`` before the evaluated
run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..correlate.baseline.district_fit import CellRates, fit_by_district
from ..correlate.baseline.store import prior_baseline
from ..geo.admin_units import AdminRegistry
from ..routing import city_projection
from ..settings import Settings
from .files import backfill_to_memory

__all__ = ["fit_replay", "whole_local_days"]

_DAY_MS = 86_400_000


def fit_replay(
    settings: Settings,
    registry: AdminRegistry,
    paths: Sequence[Path],
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    steps: Callable[[int, int], None] | None = None,
) -> tuple[CellRates, int]:
    """The fit of the replays' alerts with event time in ``[since_ms, until_ms)`` (by default
    the whole local days they cover, :func:`whole_local_days`), and how many alerts it read.

    ``progress(records, newest_event_ms)`` is called after every chunk read, and
    ``steps(done, total)`` after each step of the fit (:func:`fit_by_district`): the demo
    shows both as progress bars."""
    sink, _ = backfill_to_memory(
        settings,
        registry,
        paths,
        lambda: prior_baseline(settings),
        correlate=False,
        keep_alerts=True,
        progress=progress,
    )
    alerts = sink.stored_alerts()
    params = settings.correlation
    if since_ms is None or until_ms is None:
        since_ms, until_ms = whole_local_days(alerts.event_ms, params.utc_offset_min)
    alerts = alerts.take((alerts.event_ms >= since_ms) & (alerts.event_ms < until_ms))
    fitted = fit_by_district(
        alerts, since_ms, until_ms, registry, city_projection(registry), params, steps=steps
    )
    return fitted, len(alerts)


def whole_local_days(event_ms: np.ndarray, utc_offset_min: int) -> tuple[int, int]:
    """``[start, end)``: the whole local days of the longest run of days the history covers.

    A day belongs to the run when it holds at least 1 % of the busiest day's events, so stray
    events far from the history (an alert stamped years ago, let through where
    ``max_age_s`` is 0) and a thin day at its edge do not stretch the span; the partial first
    and last days are cut, so none biases an hour's exposure.
    """
    if not len(event_ms):
        raise ValueError("history replay holds no alerts: it must cover a whole local day")
    off = utc_offset_min * 60_000
    day = (np.asarray(event_ms, np.int64) + off) // _DAY_MS
    first = int(day.min())
    counts = np.bincount(day - first)
    covered = np.flatnonzero(counts >= 0.01 * counts.max())
    # the longest run of consecutive covered days
    breaks = np.flatnonzero(np.diff(covered) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(covered) - 1]])
    longest = int(np.argmax(covered[ends] - covered[starts]))
    lo_day, hi_day = first + covered[starts[longest]], first + covered[ends[longest]]
    inside = (day >= lo_day) & (day <= hi_day)
    lo, hi = int(event_ms[inside].min()), int(event_ms[inside].max())
    start = -((-(lo + off)) // _DAY_MS) * _DAY_MS - off
    end = ((hi + off) // _DAY_MS) * _DAY_MS - off
    if end <= start:
        raise ValueError("history replay must cover at least one whole local day")
    return start, end
