"""Helpers shared by the correlation tests: a projection and hand-made alert batches."""

from __future__ import annotations

import numpy as np

from pipeline.alerts import CATEGORY_CODE, SOURCE_CODE, AlertBatch
from pipeline.geo.projection import LocalProjection

PROJECTION = LocalProjection(30.25, 120.15)
T0 = 1_700_000_040_000  # a multiple of 60 s, so boundaries fall on round offsets from it
MIN = 60_000


def make_batch(
    x, y, t, *, ids=None, source="dispatch_110", category="theft", severity=0.5, grid=7
) -> AlertBatch:
    """Alerts at projected metres ``x, y`` and event times ``t`` (ms)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    lat, lon = PROJECTION.to_latlon(x, np.asarray(y, dtype=np.float64))

    def column(value, dtype, codes=None):
        if isinstance(value, str):
            value = codes[value]
        return np.broadcast_to(np.asarray(value), (n,)).astype(dtype)

    return AlertBatch(
        alert_id=np.array(ids if ids is not None else [f"a:{i}" for i in range(n)], dtype=object),
        source=column(source, np.int8, SOURCE_CODE),
        event_ms=np.asarray(t, dtype=np.int64),
        lat=lat,
        lon=lon,
        category=column(category, np.int16, CATEGORY_CODE),
        severity=column(severity, np.float32),
        grid=column(grid, np.int32),
    )


def city_scenario(
    seed: int = 0, hours: float = 3.0, hotspot: bool = True
) -> tuple[AlertBatch, float]:
    """Background alerts over 6 x 6 km (2 alerts/h/km², a tenth with severity 0), plus a
    hotspot of 90 alerts from three feeds within ~150 m during 20 minutes in the middle, and
    a camera firing 10 times in 30 s. Returns the alerts in event-time order and the rate."""
    rng = np.random.default_rng(seed)
    rate = 2.0
    n = rng.poisson(rate * 36 * hours)
    span = int(hours * 3_600_000)
    x = [rng.uniform(-3000, 3000, n)]
    y = [rng.uniform(-3000, 3000, n)]
    t = [T0 + rng.integers(0, span, n)]
    src = [rng.integers(0, 4, n)]
    sev = [np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.2, 1.0, n))]
    if hotspot:
        k = 90
        x.append(rng.normal(700, 100, k))
        y.append(rng.normal(-400, 100, k))
        t.append(T0 + span // 2 + rng.integers(0, 20 * MIN, k))
        src.append(rng.choice([0, 1, 3], k))
        sev.append(rng.uniform(0.4, 1.0, k))
    x.append(np.full(10, -1500.0))
    y.append(np.full(10, 1200.0))
    t.append(T0 + span // 3 + np.arange(10) * 3000)
    src.append(np.full(10, SOURCE_CODE["camera"]))
    sev.append(np.full(10, 0.3))
    x, y, t, src, sev = (np.concatenate(a) for a in (x, y, t, src, sev))
    order = np.argsort(t, kind="stable")
    batch = make_batch(x[order], y[order], t[order], source=0, category=0)
    return AlertBatch(
        alert_id=np.array([f"s{seed}:{i}" for i in range(len(t))], dtype=object),
        source=src[order].astype(np.int8),
        event_ms=batch.event_ms,
        lat=batch.lat,
        lon=batch.lon,
        category=np.where(
            src[order] == SOURCE_CODE["camera"],
            CATEGORY_CODE["loitering"],
            rng.integers(0, 20, len(t)),
        ).astype(np.int16),
        severity=sev[order].astype(np.float32),
        grid=rng.integers(0, 50, len(t)).astype(np.int32),
    ), rate
