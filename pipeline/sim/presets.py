"""Named kinds of city the simulator writes besides the default one.

The default city (:class:`~pipeline.sim.city.CityConfig`, scale 1) is dense: about 14,000
records a day over 432 km². A **sparse** city is what an engineer loading a rural county's or a
small city's history sees: about 100 records a day over about 1,000 km², months long. Its
windows hold a few alerts at a time, so most slide boundaries have nothing to do: it is the
input on which the backfill's cost must follow the data, not the calendar (issue 19,
``benchmarks/sparse_backfill.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pipeline.sim.city import CityConfig
from pipeline.sim.simulate import scale_for_total

__all__ = ["SPARSE", "SparsePreset"]


@dataclass(frozen=True, slots=True)
class SparsePreset:
    """A sparse city: ``city`` (its area and population), ``records_per_day`` (every feed and
    follow-up, bad input included) and the default span ``days``."""

    city: CityConfig
    records_per_day: float
    days: float

    def city_for(self, seed: int) -> CityConfig:
        return replace(self.city, seed=seed)

    def scale(self, duration: timedelta, start: datetime) -> float:
        """The simulator's ``scale`` giving about ``records_per_day`` over ``duration``."""
        days = duration.total_seconds() / 86_400
        return scale_for_total(round(self.records_per_day * days), duration, start)


#: 36 x 28 km (1,008 km²), 100 records a day, 90 days (about 9,000 records).
SPARSE = SparsePreset(
    city=CityConfig(size_m=(36_000.0, 28_000.0), households=10_000, cameras=800),
    records_per_day=100.0,
    days=90.0,
)
