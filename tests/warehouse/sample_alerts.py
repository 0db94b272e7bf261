"""A few alerts in the tiny test city (tests/tiny_city.py), shared by the warehouse tests."""

from __future__ import annotations

import time

from pipeline.envelope import NormalizedAlert

DAY_MS = int(time.time() // 86_400 * 86_400_000)  # today 00:00 UTC: inside the alerts TTL
GRIDS = {
    "C1G1": ("C1", 31.2025, 121.4025),
    "C1G2": ("C1", 31.2075, 121.4025),
    "C2G1": ("C2", 31.2025, 121.4075),
    "C2G2": ("C2", 31.2075, 121.4075),
}
SOURCES = ("camera", "dispatch_110", "alarm_phone", "grid_report")
CATEGORIES = ("fight", "intrusion", "dispute")


def alert(
    i: int,
    minute: int,
    grid: str,
    source: str,
    category: str,
    severity: float = 0.5,
    second: int = 0,
) -> NormalizedAlert:
    community, lat, lon = GRIDS[grid]
    return NormalizedAlert(
        alert_id=f"{source}:{i}",
        source=source,
        source_id=str(i),
        event_ms=DAY_MS + minute * 60_000 + second * 1000,
        lat=lat + 0.0001 * (i % 7),
        lon=lon - 0.0001 * (i % 5),
        category=category,
        severity=severity,
        tile="0:0",
        grid=grid,
        community=community,
        street="S1",
        district="D1",
        station_id="PS1",
    )


def sample() -> list[NormalizedAlert]:
    return [
        alert(1, 0, "C1G1", "camera", "fight", 0.4),
        alert(2, 0, "C1G1", "camera", "fight", 0.9, second=30),
        alert(3, 0, "C1G1", "dispatch_110", "fight", 1.0),
        alert(4, 1, "C1G1", "camera", "intrusion", 0.2),
        alert(5, 61, "C2G2", "alarm_phone", "intrusion", 0.7),
        alert(6, 61, "C1G2", "grid_report", "dispute", 0.0),
    ]
