"""Settings of one simulation run: time span, volume, planted hotspots, faults, wire options.

Everything random in a run derives from ``SimConfig.seed``; the same city and config always give
byte-identical output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.alerts import SOURCES
from pipeline.exceptions import ConfigurationError

__all__ = ["SHANGHAI", "PerSource", "FaultRates", "Hotspot", "SimConfig"]

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class PerSource:
    """One number per feed."""

    alarm_phone: float
    dispatch_110: float
    camera: float
    grid_report: float

    def get(self, source: str) -> float:
        return float(getattr(self, source))


@dataclass(frozen=True, slots=True)
class FaultRates:
    """Share of messages (0..1) hit by each class of bad input; 0 disables a class.

    Classes are exclusive: a message carries at most one fault, so a consumer's counts per
    dead-letter reason can be checked against the ground truth one for one.
    """

    malformed: float = 0.005  # truncated bytes or garbage, not a JSON object
    missing_field: float = 0.005  # a required field removed
    wrong_type: float = 0.005  # e.g. lat "abc", priority "high"
    unknown_enum: float = 0.005  # e.g. trigger "smoke"; consumers map it to `other`
    duplicate: float = 0.005  # the same bytes sent again, soon or minutes later
    late: float = 0.005  # delivered 5-30 min after its event time
    out_of_area: float = 0.005  # coordinates far outside the city (0,0, another city, swapped)
    future_time: float = 0.005  # event time ~2 days ahead
    past_time: float = 0.005  # event time in 2001 (a device clock reset)

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(v < 0 for v in values) or sum(values) > 0.5:
            raise ConfigurationError(
                "fault rates must be >= 0 and sum to at most 0.5; lower the rates you raised"
            )

    @classmethod
    def none(cls) -> FaultRates:
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A planted hotspot: inside the disc and time span, the rate of ``feeds`` is multiplied."""

    lat: float
    lon: float
    radius_m: float
    start: datetime  # tz-aware
    end: datetime  # tz-aware, exclusive
    multiplier: float  # total rate inside = multiplier x the local baseline rate
    feeds: tuple[str, ...] = SOURCES
    id: str = ""  # "HS01"... assigned in order when empty
    # Exactly this many planted events (spread over ``feeds`` by their baseline shares, evenly
    # where the disc has no baseline) instead of a Poisson draw of (multiplier - 1) x baseline:
    # a cluster of a stated size, as in issue 23's "5-10 alerts within 250 m in an hour".
    count: int | None = None


@dataclass(frozen=True, slots=True)
class SimConfig:
    """A simulation run. ``scale`` multiplies every rate (1.0 = a mid-size city's normal day)."""

    seed: int = 0
    start: datetime = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    duration: timedelta = timedelta(days=1)
    scale: float = 1.0
    hotspots: tuple[Hotspot, ...] | None = None  # None: draw `n_hotspots` at random
    n_hotspots: int = 4
    # Drawn hotspots must stand out in principle (see pipeline.sim.hotspots): the expected
    # count in the disc over its best window (span, at most 30 min) must exceed the exact
    # baseline at Poisson p <= this, by at least 5 events; 1.0 accepts every draw.
    hotspot_max_p: float = 1e-9
    faults: FaultRates = field(default_factory=FaultRates)
    # Share of messages whose time is ISO 8601 with +08:00 (the rest: epoch milliseconds).
    iso_share: PerSource = PerSource(alarm_phone=1.0, dispatch_110=1.0, camera=0.0, grid_report=0.9)
    null_key_share: float = 0.05  # messages produced without a Kafka key
    gcj02_sources: frozenset[str] = frozenset()  # feeds whose devices report GCJ-02

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ConfigurationError("SimConfig.start must be tz-aware, e.g. tzinfo=SHANGHAI")
        if not 0 < self.hotspot_max_p <= 1:
            raise ConfigurationError("SimConfig.hotspot_max_p must lie in (0, 1]")
        if self.duration <= timedelta(0) or self.scale <= 0:
            raise ConfigurationError("SimConfig.duration and scale must be positive")
        unknown = set(self.gcj02_sources).union(*(h.feeds for h in self.hotspots or ())) - set(
            SOURCES
        )
        if unknown:
            raise ConfigurationError(f"unknown feeds {sorted(unknown)}; use some of {SOURCES}")

    @property
    def start_ms(self) -> int:
        return round(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return round((self.start + self.duration).timestamp() * 1000)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (for the ground truth file)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, timedelta):
                return value.total_seconds()
            if isinstance(value, (frozenset, set)):
                return sorted(value)
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        return plain(asdict(self))
