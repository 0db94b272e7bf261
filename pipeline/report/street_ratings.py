"""The per-street monthly ratings report: what each street office publishes at its monthly
meeting (``hotspot report ratings``).

For one month, read from ``compound_ratings`` (``hotspot ratings`` writes it): per street, its
compounds per colour with the change from the month before, how many compounds rate better or
worse than then, and the compounds under supervised rectification (red or yellow two months
running) with their property-management company. A month before that was not rated shows no
change (``None``) rather than a change from nothing.

>>> signed(2), signed(0), signed(-1), signed(None)
('+2', '0', '-1', '')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.table import Table

from ..exceptions import ConfigurationError
from ..geo.admin_units import AdminRegistry
from ..ratings import RATINGS, UNKNOWN_COMPANY, Month
from ..warehouse import Warehouse

__all__ = [
    "RectifiedCompound",
    "StreetRatings",
    "street_ratings",
    "street_ratings_tables",
    "signed",
]


@dataclass(frozen=True, slots=True)
class RectifiedCompound:
    """A compound under rectification: its rating now and the month before, and its company
    (``""`` where the registry names none)."""

    compound_code: str
    name: str
    company: str
    rating: str
    previous: str
    alerts: int


@dataclass(frozen=True, slots=True)
class StreetRatings:
    """One street's ratings of one month. ``change`` is this month's count per colour less the
    month before's (None where the month before was not rated); ``better`` and ``worse`` count
    the compounds rated in both months whose colour changed."""

    street_code: str
    street_name: str
    month: Month
    counts: dict[str, int]
    change: dict[str, int] | None
    better: int
    worse: int
    rectification: tuple[RectifiedCompound, ...]

    @property
    def compounds(self) -> int:
        return sum(self.counts.values())


def signed(n: int | None) -> str:
    """A change as the report prints it: ``+2``, ``0``, ``-1``; ``""`` when unknown."""
    return "" if n is None else f"{n:+d}" if n else "0"


def street_ratings(
    warehouse: Warehouse,
    month: Month,
    registry: AdminRegistry | None = None,
    street: str | None = None,
) -> list[StreetRatings]:
    """Each street's ratings of ``month`` (only ``street`` when given), by street code.

    Names come from ``registry`` when given (else the codes). Raises
    :class:`~pipeline.exceptions.ConfigurationError` when the month, or the street in it, has
    no ratings, saying which command writes them.
    """
    where = f"month IN (toDate('{month.shift(-1).first_day()}'), toDate('{month.first_day()}'))"
    if street is not None:
        where += f" AND street_code = '{street.replace(chr(39), '')}'"  # codes hold no quotes
    cols = warehouse.query_columns(
        # not aliased `month`: ClickHouse would put the string in the WHERE's `month`
        "SELECT toString(month) AS rated_month, compound_code, street_code, rating, "
        "under_rectification, company, alerts "
        f"FROM {warehouse.database}.compound_ratings FINAL WHERE {where} "
        "ORDER BY street_code, compound_code"
    )
    now = np.array(cols["rated_month"], dtype=str) == str(month.first_day())
    if not now.any():
        whose = f" of street {street}" if street is not None else ""
        raise ConfigurationError(
            f"no ratings{whose} stored for {month}; run `hotspot ratings --month {month}` first"
            + (" or check the street code" if street is not None else "")
        )
    codes = np.array(cols["compound_code"], dtype=object)
    rating = np.array(cols["rating"], dtype=object)
    level = np.select([rating == name for name in RATINGS], range(len(RATINGS))).astype(np.int8)
    before = dict(zip(codes[~now], level[~now], strict=True))
    streets = np.array(cols["street_code"], dtype=object)
    reports = []
    for code in sorted(set(streets[now])):  # a loop per street
        mine = np.flatnonzero(now & (streets == code))
        reports.append(_street(code, month, mine, cols, codes, level, before, registry))
    return reports


def _street(code, month, mine, cols, codes, level, before, registry) -> StreetRatings:
    counts = {name: int((level[mine] == lvl).sum()) for lvl, name in enumerate(RATINGS)}
    previous = [before.get(c) for c in codes[mine]]
    rated = [(lvl, p) for lvl, p in zip(level[mine], previous, strict=True) if p is not None]
    change = None
    if before:
        prior = np.array([p for p in previous if p is not None], np.int8)
        change = {
            name: counts[name] - int((prior == lvl).sum()) for lvl, name in enumerate(RATINGS)
        }
    rectification = tuple(
        RectifiedCompound(
            str(codes[i]),
            _name(registry, "compounds", str(codes[i])),
            str(cols["company"][i]),
            RATINGS[level[i]],
            RATINGS[before[codes[i]]] if codes[i] in before else "",
            int(cols["alerts"][i]),
        )
        for i in mine
        if cols["under_rectification"][i]
    )
    return StreetRatings(
        street_code=str(code),
        street_name=_name(registry, "streets", str(code)),
        month=month,
        counts=counts,
        change=change,
        better=sum(1 for lvl, p in rated if lvl < p),
        worse=sum(1 for lvl, p in rated if lvl > p),
        rectification=rectification,
    )


def _name(registry: AdminRegistry | None, level: str, code: str) -> str:
    if registry is None:
        return code
    units = getattr(registry, level)
    k = int(units.index_of(code)[0])
    return str(units.names[k]) if k >= 0 else code


def street_ratings_tables(reports: list[StreetRatings]) -> tuple[Table, Table]:
    """The ratings per street, and the compounds under rectification with their company."""
    month = reports[0].month if reports else None
    streets = Table(title=f"Compound ratings of {month}, by street office (change from last month)")
    for column in ("street", "name", "compounds"):
        streets.add_column(column, justify="right" if column == "compounds" else "left")
    for name in (*reversed(RATINGS), "better", "worse", "rectification"):
        streets.add_column(name, justify="right")
    for r in reports:
        colours = [
            f"{r.counts[c]} ({signed(r.change[c])})" if r.change else str(r.counts[c])
            for c in reversed(RATINGS)
        ]
        streets.add_row(
            r.street_code,
            r.street_name,
            str(r.compounds),
            *colours,
            str(r.better),
            str(r.worse),
            str(len(r.rectification)),
        )
    listed = Table(title=f"Compounds under supervised rectification in {month}")
    for column in ("street", "compound", "name", "company", "last month", "rating", "alerts"):
        listed.add_column(column, justify="right" if column == "alerts" else "left")
    for r in reports:
        for c in r.rectification:
            listed.add_row(
                r.street_code,
                c.compound_code,
                c.name,
                c.company or UNKNOWN_COMPANY,
                c.previous,
                c.rating,
                str(c.alerts),
            )
    return streets, listed
