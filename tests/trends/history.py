"""A constructed two-week history on a 9 x 8 grid of 500 m cells: a background of 1-3 alerts
per cell and day, and three planted 3 x 3 blocks whose patterns are known (new, persistent,
historical). Shared by the trend job's tests and the command's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.envelope import NormalizedAlert
from pipeline.geo.admin_units import load_registry
from pipeline.geo.grid_registry import grid_registry
from pipeline.settings import TrendSettings

__all__ = [
    "CODES",
    "DAYS",
    "GEOJSON",
    "LAST",
    "N",
    "PLANTED",
    "REGISTRY",
    "SETTINGS",
    "STEPS",
    "alerts",
    "constructed_counts",
]

GEOJSON = grid_registry((31.20, 121.40, 31.236, 121.442), 500)
REGISTRY = load_registry(GEOJSON)  # 9 x 8 cells
CODES = REGISTRY.grids.codes.tolist()
N = len(CODES)
SETTINGS = TrendSettings(steps=14, min_steps=10)
STEPS = SETTINGS.steps
#: the last classified day: recent, since the alerts table keeps 400 days
LAST = (datetime.now(UTC) + timedelta(minutes=SETTINGS.utc_offset_min)).date() - timedelta(days=2)
DAYS = [LAST - timedelta(days=STEPS - 1 - k) for k in range(STEPS)]

#: centre cell of a planted 3 x 3 block -> (the days it is busy, the pattern it must get)
PLANTED = {
    "G-001-001": (slice(STEPS - 1, STEPS), "new hot spot"),  # busy only on the last day
    "G-001-006": (slice(None), "persistent hot spot"),  # busy every day
    "G-007-006": (slice(0, STEPS - 1), "historical hot spot"),  # busy until the day before
}


def _block(centre: str) -> list[int]:
    _, r, c = centre.split("-")
    near = [
        f"G-{i:03d}-{j:03d}"
        for i in range(int(r) - 1, int(r) + 2)
        for j in range(int(c) - 1, int(c) + 2)
    ]
    return [CODES.index(code) for code in near]


def constructed_counts() -> np.ndarray:
    """Alerts per (day, cell): a background of 1-3 that shifts every day, and the planted
    blocks 10 above it on their busy days. One block stops the day another starts, so the
    persistent block's standing stays the same every day (Gi* compares cells with each other)."""
    counts = 1 + (np.arange(N)[None, :] * 7 + np.arange(STEPS)[:, None]) % 3
    for centre, (busy, _) in PLANTED.items():
        counts[busy, _block(centre)] += 10
    return counts


def alerts(counts: np.ndarray, source: str = "dispatch_110") -> list[NormalizedAlert]:
    units = REGISTRY.unit_columns(np.arange(N, dtype=np.int32))
    alerts = []
    for k, day in enumerate(DAYS):
        noon = int(datetime(day.year, day.month, day.day, 4, tzinfo=UTC).timestamp() * 1000)
        for cell in np.flatnonzero(counts[k]):  # a loop per cell to build test input only
            for i in range(int(counts[k, cell])):
                alerts.append(
                    NormalizedAlert(
                        alert_id=f"{source}:{k}-{cell}-{i}",
                        source=source,
                        source_id=f"{k}-{cell}-{i}",
                        event_ms=noon + 1000 * i + cell,
                        lat=float(REGISTRY.grid_centroid_lat[cell]),
                        lon=float(REGISTRY.grid_centroid_lon[cell]),
                        category="theft",
                        severity=1.0,
                        tile="0:0",
                        grid=units["grid_code"][cell],
                        community=units["community_code"][cell],
                        street=units["street_code"][cell],
                        district=units["district_code"][cell],
                        station_id=units["station_id"][cell],
                    )
                )
    return alerts
