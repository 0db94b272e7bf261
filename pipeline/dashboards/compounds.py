"""Three-colour compounds: the monthly red / yellow / green rating of residential compounds
(``hotspot ratings``), and the compounds red two months running."""

from __future__ import annotations

from .dashboard import Dashboard, district_variable
from .fragments import in_districts, unit_names
from .panels import Query, Threshold, by_name, geomap, markers_layer, table, timeseries

__all__ = ["compounds"]

_MONTHS_IN_RANGE = "month >= toStartOfMonth($__fromTime) AND month <= $__toTime"
_LATEST_MONTH = f"(SELECT max(month) FROM compound_ratings WHERE {_MONTHS_IN_RANGE})"

_LATEST = f"""
    SELECT r.month AS month, r.compound_code AS compound, u.name AS name,
           c.name AS community, r.station_id AS station, r.alerts AS alerts, r.rating AS rating,
           r.red_two_months AS red_two_months
    FROM compound_ratings AS r FINAL
    LEFT JOIN {unit_names("compound")} AS u ON u.code = r.compound_code
    LEFT JOIN {unit_names("community")} AS c ON c.code = r.community_code
    WHERE r.month = {_LATEST_MONTH} AND {in_districts("r.district_code")}
    ORDER BY multiIf(rating = 'red', 0, rating = 'yellow', 1, 2), alerts DESC
"""

_MAP = f"""
    SELECT u.lat AS lat, u.lon AS lon, r.compound_code AS compound, u.name AS name,
           r.alerts AS alerts, r.rating AS rating,
           multiIf(r.rating = 'red', 2, r.rating = 'yellow', 1, 0) AS level
    FROM compound_ratings AS r FINAL
    INNER JOIN {unit_names("compound")} AS u ON u.code = r.compound_code
    WHERE r.month = {_LATEST_MONTH} AND {in_districts("r.district_code")}
"""

_PER_MONTH = f"""
    SELECT toDateTime(month) AS time, countIf(rating = 'red') AS red,
           countIf(rating = 'yellow') AS yellow, countIf(rating = 'green') AS green
    FROM compound_ratings FINAL
    WHERE {_MONTHS_IN_RANGE} AND {in_districts()}
    GROUP BY month
    ORDER BY month
"""

_RED_TWICE = f"""
    SELECT r.month AS month, r.compound_code AS compound, u.name AS name,
           c.name AS community, r.station_id AS station, r.alerts AS alerts
    FROM compound_ratings AS r FINAL
    LEFT JOIN {unit_names("compound")} AS u ON u.code = r.compound_code
    LEFT JOIN {unit_names("community")} AS c ON c.code = r.community_code
    WHERE r.red_two_months = 1 AND r.{_MONTHS_IN_RANGE}
      AND {in_districts("r.district_code")}
    ORDER BY month DESC, alerts DESC
"""

_RATING_CELLS = by_name(
    "rating",
    **{
        "custom.cellOptions": {"type": "color-background"},
        "mappings": [
            {
                "type": "value",
                "options": {
                    name: {"color": name, "index": k}
                    for k, name in enumerate(("red", "yellow", "green"))
                },
            }
        ],
    },
)
_SERIES_COLOURS = tuple(
    by_name(name, color={"mode": "fixed", "fixedColor": name})
    for name in ("red", "yellow", "green")
)
_LEVELS = (Threshold("green"), Threshold("yellow", 1), Threshold("red", 2))


def compounds() -> Dashboard:
    panels = (
        geomap(
            "Compounds, latest month in range",
            (Query(_MAP),),
            [markers_layer("Rating", "A", colour="level")],
            thresholds=_LEVELS,
            width=12,
            height=14,
        ),
        table(
            "Ratings, latest month in range",
            Query(_LATEST),
            width=12,
            height=14,
            overrides=(_RATING_CELLS,),
        ),
        timeseries(
            "Compounds by rating per month",
            Query(_PER_MONTH, time_series=True),
            bars=True,
            overrides=_SERIES_COLOURS,
            width=12,
            height=9,
        ),
        table(
            "Red two months running",
            Query(_RED_TWICE),
            width=12,
            height=9,
            description="Compounds rated red in a month and in the month before it.",
        ),
    )
    return Dashboard(
        uid="hotspot-compounds",
        title="Hotspot: three-colour compounds",
        description=__doc__.splitlines()[0],
        panels=panels,
        variables=(district_variable(),),
        time_from="now-6M",
        refresh="1h",
    )
