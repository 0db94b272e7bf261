"""Monthly three-colour (red / yellow / green) rating of residential compounds.

Each compound is rated per calendar month (local time) from the property-crime alerts located
inside it: ``red`` with at least ``red_at`` alerts, ``yellow`` with at least ``yellow_at``,
``green`` otherwise (thresholds and counted categories in ``Settings.ratings``). A compound red
this month and the month before is marked ``red_two_months``: the command centre's list for
the monthly review. A compound red *or yellow* this month and the month before is
``under_rectification`` (supervised rectification), recorded against its property-management
company (the registry's ``company``; ``""``, an unknown company, where it names none): see
:meth:`CompoundRatings.companies`.

Alerts carry grid, community, street and district codes, not compounds, so the job places them
with the registry's compound polygons (one vectorised lookup for the whole period) and counts
with one ``bincount``. The month before the first rated month is counted too, so the
two-month mark does not depend on what was rated before. Re-rating a month replaces its rows.

>>> months_between("2026-10", "2026-12")
[Month(year=2026, month=10), Month(year=2026, month=11), Month(year=2026, month=12)]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np

from .exceptions import ConfigurationError
from .geo.admin_units import AdminRegistry
from .settings import RatingThresholds
from .warehouse import Warehouse

__all__ = [
    "Month",
    "months_between",
    "CompoundRatings",
    "count_in_compounds",
    "rating_levels",
    "two_months_running",
    "rate_compounds",
    "write_ratings",
    "months_without_alerts",
    "RATINGS",
    "UNKNOWN_COMPANY",
    "CompanyRectification",
]

#: Rating names by level (0, 1, 2).
RATINGS: tuple[str, ...] = ("green", "yellow", "red")
#: How a compound whose registry entry names no company is shown (stored as "").
UNKNOWN_COMPANY = "(unknown company)"


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            year, month = (int(part) for part in text.strip().split("-"))
            date(year, month, 1)
        except ValueError:
            raise ConfigurationError(f"month {text!r} is not YYYY-MM (e.g. 2026-11)") from None
        return cls(year, month)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def start_ms(self, utc_offset_min: int) -> int:
        """Epoch ms of the month's first local midnight."""
        days = (self.first_day() - date(1970, 1, 1)).days
        return (days * 1440 - utc_offset_min) * 60_000

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def months_between(first: str, last: str | None = None) -> list[Month]:
    """Every month from ``first`` to ``last`` (inclusive; ``last`` defaults to ``first``)."""
    lo, hi = Month.parse(first), Month.parse(last or first)
    if hi < lo:
        raise ConfigurationError(f"month range {lo}..{hi} ends before it starts")
    count = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    if count > 120:
        raise ConfigurationError(f"{count} months asked for; rate at most ten years at once")
    return [lo.shift(k) for k in range(count)]


def count_in_compounds(
    lat: np.ndarray,
    lon: np.ndarray,
    event_ms: np.ndarray,
    registry: AdminRegistry,
    bounds_ms: np.ndarray,
) -> np.ndarray:
    """Alerts per (month, compound): ``bounds_ms`` are the months' starts plus the last end.

    Points outside every compound, or outside the months, are not counted.
    """
    n_months, n_compounds = len(bounds_ms) - 1, len(registry.compounds)
    compound = registry.locate_compound(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
    month = np.searchsorted(bounds_ms, np.asarray(event_ms, np.int64), side="right") - 1
    keep = (compound >= 0) & (month >= 0) & (month < n_months)
    flat = month[keep].astype(np.int64) * n_compounds + compound[keep]
    return np.bincount(flat, minlength=n_months * n_compounds).reshape(n_months, n_compounds)


def rating_levels(counts: np.ndarray, thresholds: RatingThresholds) -> np.ndarray:
    """0 green, 1 yellow, 2 red per count (int8)."""
    return (counts >= thresholds.yellow_at).astype(np.int8) + (counts >= thresholds.red_at).astype(
        np.int8
    )


def two_months_running(level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``red_two_months`` and ``under_rectification`` of months 1.. from levels shaped
    (months, compounds) whose first row is the month before: red both months, and red or
    yellow both months (so every compound red two months running is under rectification).

    >>> red, rect = two_months_running(np.array([[2, 1, 0, 2], [1, 1, 2, 2]], np.int8))
    >>> red.tolist(), rect.tolist()
    ([[False, False, False, True]], [[True, True, False, True]])
    """
    red, flagged = level == 2, level >= 1
    return red[1:] & red[:-1], flagged[1:] & flagged[:-1]


@dataclass(frozen=True)
class CompanyRectification:
    """A company's compounds under supervised rectification in one month (codes sorted)."""

    month: Month
    company: str  # "" for compounds whose company the registry does not name
    compounds: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.company or UNKNOWN_COMPANY


@dataclass(frozen=True)
class CompoundRatings:
    """Ratings of every compound for ``months``: arrays shaped (months, compounds)."""

    months: list[Month]
    compound_codes: np.ndarray
    alerts: np.ndarray  # int64 counts
    level: np.ndarray  # int8: 0 green, 1 yellow, 2 red
    red_two_months: np.ndarray  # bool
    thresholds: RatingThresholds
    under_rectification: np.ndarray  # bool: red or yellow this month and the month before
    company: np.ndarray  # str per compound, "" where the registry names none

    def summary(self) -> list[dict[str, object]]:
        """Per month: compounds per colour, how many are red two months running and how many
        are under rectification."""
        return [
            {
                "month": str(m),
                **{name: int((self.level[k] == lvl).sum()) for lvl, name in enumerate(RATINGS)},
                "red_two_months": int(self.red_two_months[k].sum()),
                "under_rectification": int(self.under_rectification[k].sum()),
            }
            for k, m in enumerate(self.months)
        ]

    def companies(self, month: Month | None = None) -> list[CompanyRectification]:
        """The companies with compounds under rectification in ``month`` (default: the last
        rated), most compounds first; the unknown company ("") is one of them when it has any."""
        k = len(self.months) - 1 if month is None else self.months.index(month)
        under = np.flatnonzero(self.under_rectification[k])
        names, inverse = np.unique(self.company[under], return_inverse=True)
        groups = [
            CompanyRectification(
                self.months[k], str(name), tuple(sorted(self.compound_codes[under[inverse == j]]))
            )
            for j, name in enumerate(names)  # a loop per company
        ]
        return sorted(groups, key=lambda g: (-len(g.compounds), g.company == "", g.company))

    def rows(self, registry: AdminRegistry) -> dict[str, object]:
        """Warehouse rows (``compound_ratings``), one per month and compound."""
        n_months, n = self.alerts.shape
        community = registry.compounds.parent
        street = registry.communities.parent[community]
        unit = {
            "community_code": registry.communities.codes[community],
            "street_code": registry.streets.codes[street],
            "district_code": registry.districts.codes[registry.streets.parent[street]],
            "station_id": registry.compounds.station_id,
        }
        tiled = {name: np.tile(values.astype(object), n_months) for name, values in unit.items()}
        return {
            "month": np.repeat(np.array([m.first_day() for m in self.months], dtype=object), n),
            "compound_code": np.tile(self.compound_codes.astype(object), n_months),
            **tiled,
            "alerts": self.alerts.ravel().astype(np.uint32),
            "rating": np.array(RATINGS, dtype=object)[self.level.ravel()],
            "red_two_months": self.red_two_months.ravel().astype(np.uint8),
            "under_rectification": self.under_rectification.ravel().astype(np.uint8),
            "company": np.tile(self.company.astype(object), n_months),
            "yellow_at": np.full(n_months * n, self.thresholds.yellow_at, np.uint32),
            "red_at": np.full(n_months * n, self.thresholds.red_at, np.uint32),
            "rated_at": np.full(n_months * n, np.datetime64(time.time_ns() // 1_000_000, "ms")),
        }


def _category_predicate(thresholds: RatingThresholds) -> str:
    pairs = [f"('{feed}', '{cat}')" for feed, cats in thresholds.categories.items() for cat in cats]
    return f"(source, category) IN ({', '.join(pairs)})"


def rate_compounds(
    warehouse: Warehouse,
    registry: AdminRegistry,
    months: list[Month],
    thresholds: RatingThresholds,
) -> CompoundRatings:
    """Count, rate and mark every compound for ``months`` (consecutive, ascending)."""
    if not months:
        raise ConfigurationError("no month to rate; pass --month YYYY-MM")
    if len(registry.compounds) == 0:
        raise ConfigurationError(
            "the admin registry has no compounds (level 'compound'); add them to rate them"
        )
    span = [months[0].shift(-1), *months]
    bounds = np.array(
        [m.start_ms(thresholds.utc_offset_min) for m in span]
        + [months[-1].shift(1).start_ms(thresholds.utc_offset_min)],
        np.int64,
    )
    cols = warehouse.query_columns(
        f"SELECT lat, lon, toUnixTimestamp64Milli(event_time) AS ms "
        f"FROM {warehouse.database}.alerts FINAL "
        f"WHERE event_time >= fromUnixTimestamp64Milli({int(bounds[0])}) "
        f"AND event_time < fromUnixTimestamp64Milli({int(bounds[-1])}) "
        f"AND {_category_predicate(thresholds)}"
    )
    counts = count_in_compounds(
        np.array(cols["lat"], np.float64),
        np.array(cols["lon"], np.float64),
        np.array(cols["ms"], np.int64),
        registry,
        bounds,
    )
    level = rating_levels(counts, thresholds)
    red_two_months, under_rectification = two_months_running(level)
    return CompoundRatings(
        months=list(months),
        compound_codes=registry.compounds.codes,
        alerts=counts[1:],
        level=level[1:],
        red_two_months=red_two_months,
        thresholds=thresholds,
        under_rectification=under_rectification,
        company=registry.compounds.company,
    )


def months_without_alerts(
    warehouse: Warehouse, months: list[Month], thresholds: RatingThresholds
) -> list[Month]:
    """The months that hold no stored alert of any feed: rating them would call every compound
    green from an absence of data, not from a quiet month."""
    bounds = [m.start_ms(thresholds.utc_offset_min) for m in [*months, months[-1].shift(1)]]
    cols = warehouse.query_columns(
        f"SELECT toUnixTimestamp64Milli(event_time) AS ms FROM {warehouse.database}.alerts "
        f"WHERE event_time >= fromUnixTimestamp64Milli({bounds[0]}) "
        f"AND event_time < fromUnixTimestamp64Milli({bounds[-1]}) "
        f"LIMIT 1 BY toStartOfDay(event_time)"  # a few rows a month, enough to tell
    )
    index = np.searchsorted(np.array(bounds, np.int64), np.array(cols["ms"], np.int64), "right")
    held = np.bincount(index - 1, minlength=len(months))
    return [m for m, n in zip(months, held[: len(months)], strict=True) if n == 0]


def write_ratings(warehouse: Warehouse, ratings: CompoundRatings, registry: AdminRegistry) -> int:
    """Insert the ratings (replacing earlier ratings of the same months); returns rows written."""
    rows = ratings.rows(registry)
    warehouse.insert("compound_ratings", rows)
    return len(rows["compound_code"])
