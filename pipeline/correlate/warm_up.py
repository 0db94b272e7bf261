"""Load the correlator's kernels before the first real batch.

Every kernel is compiled once into Numba's on-disk cache, but a fresh process still loads each
from it at its first call: 0.5-1 s in all, which the first batch after a start, a restart or a
rebalance would wait for (4.5 % of a worker's profile samples in a 100,000-message benchmark,
2026-12-06). A worker runs a small synthetic hotspot through a throwaway correlator while it
joins its consumer group instead, which takes seconds anyway.
"""

from __future__ import annotations

import numpy as np

from ..alerts import CATEGORIES, SOURCES, AlertBatch
from .engine import Correlator

__all__ = ["warm_up"]

_ALERTS = 48
_START_MS = 1_700_000_000_000  # any fixed time: nothing of it outlives the throwaway correlator


def synthetic_hotspot(lat: float, lon: float) -> AlertBatch:
    """``_ALERTS`` alerts of every source and category within about 100 m of ``(lat, lon)``,
    one every 10 s: a cluster dense enough to open and close a flag and an incident."""
    rng = np.random.default_rng(0)
    n = _ALERTS
    return AlertBatch(
        alert_id=np.array([f"warm-up:{i}" for i in range(n)], dtype=object),
        source=(np.arange(n) % len(SOURCES)).astype(np.int8),
        event_ms=_START_MS + 10_000 * np.arange(n, dtype=np.int64),
        lat=lat + rng.uniform(-0.0009, 0.0009, n),
        lon=lon + rng.uniform(-0.0009, 0.0009, n),
        category=(np.arange(n) % len(CATEGORIES)).astype(np.int16),
        severity=np.ones(n, np.float32),
        grid=np.zeros(n, np.int32),
    )


def warm_up(correlator: Correlator) -> None:
    """Drive a synthetic hotspot through ``correlator`` (a throwaway: it is left holding it)
    to the end of every window, in two batches, the second with a duplicate."""
    lat, lon = correlator.projection.lat0, correlator.projection.lon0
    alerts = synthetic_hotspot(lat, lon)
    half = len(alerts) // 2
    correlator.process(alerts.take(np.arange(half)))
    again = np.r_[np.arange(half, len(alerts)), 0]  # the first alert again: a duplicate
    correlator.process(alerts.take(again))
    params = correlator.params
    correlator.advance_to(int(alerts.event_ms[-1]) + params.window_ms + params.incident_gap_ms)
