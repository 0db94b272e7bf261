"""A history replay fitted the way ``hotspot baseline fit`` fits a warehouse period.

The replay is backfilled into memory without correlating (the alerts ``hotspot backfill
--no-correlate`` would store), and the alerts of the period go to the same fit,
:func:`~pipeline.correlate.district_fit.fit_by_district`. The demo fits its simulated history
this way before the live run, and ``hotspot evaluate --history`` before the evaluated run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..baseline_store import prior_baseline
from ..correlate.district_fit import CellRates, fit_by_district
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
) -> tuple[CellRates, int]:
    """The fit of the replays' alerts with event time in ``[since_ms, until_ms)`` (by default
    the whole local days they cover, :func:`whole_local_days`), and how many alerts it read."""
    sink, _ = backfill_to_memory(
        settings,
        registry,
        paths,
        lambda: prior_baseline(settings),
        correlate=False,
        keep_alerts=True,
    )
    alerts = sink.stored_alerts()
    params = settings.correlation
    if since_ms is None or until_ms is None:
        since_ms, until_ms = whole_local_days(alerts.event_ms, params.utc_offset_min)
    alerts = alerts.take((alerts.event_ms >= since_ms) & (alerts.event_ms < until_ms))
    fitted = fit_by_district(
        alerts, since_ms, until_ms, registry, city_projection(registry), params
    )
    return fitted, len(alerts)


def whole_local_days(event_ms: np.ndarray, utc_offset_min: int) -> tuple[int, int]:
    """``[start, end)``: the longest span of whole local days the event times cover (late and
    early strays are cut, so no partial day biases an hour's exposure)."""
    if not len(event_ms):
        raise ValueError("history replay holds no alerts: it must cover a whole local day")
    off = utc_offset_min * 60_000
    lo, hi = np.quantile(event_ms, [0.0001, 0.9999]).astype(np.int64)
    start = -((-(int(lo) + off)) // _DAY_MS) * _DAY_MS - off
    end = ((int(hi) + off) // _DAY_MS) * _DAY_MS - off
    if end <= start:
        raise ValueError("history replay must cover at least one whole local day")
    return start, end
