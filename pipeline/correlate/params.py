"""Every parameter of the correlation engine, in one frozen object the settings embed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .exceptions import CorrelationError

__all__ = ["CorrelationParams"]


@dataclass(frozen=True, slots=True)
class CorrelationParams:
    """Parameters of :class:`pipeline.correlate.engine.Correlator`; units are in the names.

    Windows (event time)
        ``window_s`` (1800 s = 30 min): length of the sliding window scored at each boundary.
        ``slide_s`` (60 s): distance between boundaries; boundaries are multiples of it since
        the epoch. ``lateness_s`` (120 s): allowed lateness; watermark = max event time seen
        minus this, and an alert older than the watermark on arrival is returned as late.

    Incidents
        ``incident_radius_m`` (150 m) and ``incident_gap_s`` (600 s = 10 min): two alerts at
        most this far apart in space *and* time are linked; incidents are the connected
        components.

    Bursts
        ``burst_radius_m`` (50 m) and ``burst_gap_s`` (120 s): alerts of one source and
        category this close in space and time (chained) count once for hotspot scoring, so a
        camera re-firing at one object is one event, not a hotspot.

    Hotspots
        ``cell_m`` (250 m): side of the square scoring lattice on the local projection.
        ``hotspot_radius_m`` (500 m): alerts within this distance of a cell centre count for
        the cell; also the flag radius and the merge distance of adjacent hot cells.
        ``bh_q`` (0.01): Benjamini-Hochberg false discovery rate across the cells tested at
        one boundary. ``open_score`` (6.0) / ``close_score`` (3.0): score thresholds to open a
        flag and to start counting towards closing it; ``close_after_slides`` (3): consecutive
        boundaries below ``close_score`` that close a flag (hysteresis). ``min_count`` (3):
        fewest counted alerts in the disk for a flag to open. ``min_rate_ratio`` (2.0): the
        observed count must also be at least this multiple of the expected one, so a large
        area with a slightly wrong baseline cannot open flags on sheer volume.
        ``corroboration_gain`` (0.5): each distinct source beyond the first multiplies the
        score by ``1 + gain`` more (see :mod:`pipeline.correlate.scoring`).
        ``merge_radius_m`` (1000 m = 2 x hotspot radius): a hot cell this close to an open
        flag's cell feeds that flag instead of opening its own. Disks closer than twice their
        radius share alerts, so one compact hotspot lights up cells up to about that far apart.
        ``update_score_delta`` (1.0): an open flag emits an ``update`` when its counts change
        or its score moved at least this much since the last event.

    Baseline and calendar
        ``utc_offset_min`` (480, China Standard Time, no DST): local time for hour-of-week.
    """

    window_s: int = 1800
    slide_s: int = 60
    lateness_s: int = 120
    incident_radius_m: float = 150.0
    incident_gap_s: int = 600
    burst_radius_m: float = 50.0
    burst_gap_s: int = 120
    cell_m: float = 250.0
    hotspot_radius_m: float = 500.0
    bh_q: float = 0.01
    open_score: float = 6.0
    close_score: float = 3.0
    close_after_slides: int = 3
    min_count: int = 3
    min_rate_ratio: float = 2.0
    corroboration_gain: float = 0.5
    merge_radius_m: float = 1000.0
    update_score_delta: float = 1.0
    utc_offset_min: int = 480

    def __post_init__(self) -> None:
        for name in ("window_s", "slide_s", "incident_gap_s", "burst_gap_s", "close_after_slides"):
            if getattr(self, name) <= 0:
                raise CorrelationError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.lateness_s < 0:
            raise CorrelationError(f"lateness_s must be >= 0, got {self.lateness_s!r}")
        if self.window_s % self.slide_s:
            raise CorrelationError(
                f"window_s ({self.window_s}) must be a multiple of slide_s ({self.slide_s})"
            )
        for name in (
            "incident_radius_m",
            "burst_radius_m",
            "cell_m",
            "hotspot_radius_m",
            "merge_radius_m",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise CorrelationError(f"{name} must be a positive number of metres, got {v!r}")
        if not 0 < self.bh_q < 1:
            raise CorrelationError(f"bh_q must lie in (0, 1), got {self.bh_q!r}")
        if self.close_score > self.open_score:
            raise CorrelationError("close_score must not exceed open_score (hysteresis)")

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    @property
    def slide_ms(self) -> int:
        return self.slide_s * 1000

    @property
    def lateness_ms(self) -> int:
        return self.lateness_s * 1000

    @property
    def incident_gap_ms(self) -> int:
        return self.incident_gap_s * 1000

    @property
    def burst_gap_ms(self) -> int:
        return self.burst_gap_s * 1000

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)
