"""Units: the weekly analysis meeting's view, communities and streets by incidents against the
previous period of the same length, and the grid cells' emerging hot-spot trends (`hotspot
trends`, table cell_trends) of the latest classified day in the range."""

from __future__ import annotations

from .dashboard import Dashboard, district_variable
from .fragments import in_districts, unit_names
from .panels import Query, by_name, table, timeseries

__all__ = ["units"]

# The previous period: as long as the range, ending where the range starts.
_PREVIOUS = (
    "first_time >= $__fromTime - dateDiff('second', $__fromTime, $__toTime) "
    "AND first_time < $__fromTime"
)


def _versus_previous(column: str, level: str) -> str:
    def counts(period: str) -> str:
        return (
            f"SELECT {column} AS code, count() AS n, countIf(n_sources >= 2) AS corroborated "
            f"FROM incidents FINAL WHERE {period} AND {column} != '' AND {in_districts()} "
            "GROUP BY code"
        )

    return f"""
        SELECT code AS {level}, u.name AS name, cur.n AS incidents, prev.n AS previous,
               toInt64(cur.n) - toInt64(prev.n) AS change,
               if(prev.n > 0, round(cur.n / prev.n - 1, 3), NULL) AS change_ratio,
               cur.corroborated AS corroborated
        FROM ({counts("$__timeFilter(first_time)")}) AS cur
        FULL OUTER JOIN ({counts(_PREVIOUS)}) AS prev USING (code)
        LEFT JOIN {unit_names(level)} AS u USING (code)
        ORDER BY incidents DESC, change DESC
        LIMIT 25
    """


_BY_DISTRICT = f"""
    SELECT $__timeInterval(first_time) AS time, d.name AS district, count() AS incidents
    FROM incidents AS i FINAL
    LEFT JOIN {unit_names("district")} AS d ON d.code = i.district_code
    WHERE $__timeFilter(i.first_time) AND i.district_code != ''
      AND {in_districts("i.district_code")}
    GROUP BY time, district
    ORDER BY time
"""

# The latest day `hotspot trends` classified within the range; hot spots first, in the order
# of pipeline/trends/patterns.py (new, consecutive, intensifying, ...), then cold spots.
_LATEST_TREND_DAY = (
    "(SELECT max(day) FROM cell_trends WHERE day >= toDate($__fromTime) "
    "AND day <= toDate($__toTime))"
)
_TRENDS = f"""
    SELECT t.day AS day, t.grid_code AS grid, c.name AS community, s.name AS street,
           concat(t.pattern, ' ', t.spot, ' spot') AS pattern, t.hot_steps AS hot_steps,
           t.cold_steps AS cold_steps, t.steps AS steps, round(t.trend_tau, 2) AS trend,
           t.alerts AS alerts, t.station_id AS station
    FROM cell_trends AS t FINAL
    LEFT JOIN {unit_names("community")} AS c ON c.code = t.community_code
    LEFT JOIN {unit_names("street")} AS s ON s.code = t.street_code
    WHERE t.day = {_LATEST_TREND_DAY} AND t.code != 0 AND {in_districts("t.district_code")}
    ORDER BY t.code < 0, abs(t.code), alerts DESC, grid
"""

_CHANGE_COLOURS = by_name(
    "change",
    **{
        "custom.cellOptions": {"type": "color-text"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
        },
        "color": {"mode": "thresholds"},
    },
)
_RATIO = by_name("change_ratio", unit="percentunit")


def units() -> Dashboard:
    panels = (
        table(
            "Top communities: incidents vs previous period",
            Query(_versus_previous("community_code", "community")),
            width=12,
            height=12,
            overrides=(_CHANGE_COLOURS, _RATIO),
            description="Correlated incidents in the range and in the period of the same "
            "length just before it.",
        ),
        table(
            "Top streets: incidents vs previous period",
            Query(_versus_previous("street_code", "street")),
            width=12,
            height=12,
            overrides=(_CHANGE_COLOURS, _RATIO),
        ),
        table(
            "Grid cell trends (emerging hot spots), latest classified day",
            Query(_TRENDS),
            width=24,
            height=10,
            description="`hotspot trends`: each grid cell's Emerging Hot Spot pattern (new, "
            "consecutive, intensifying, persistent, diminishing, sporadic, oscillating, "
            "historical; hot or cold) over the time steps up to the latest day classified in "
            "the range; trend is the Mann-Kendall tau of its Gi* z-scores. Cells without a "
            "pattern are left out.",
        ),
        timeseries(
            "Incidents by district",
            Query(_BY_DISTRICT, time_series=True),
            bars=True,
            width=24,
            height=8,
        ),
    )
    return Dashboard(
        uid="hotspot-units",
        title="Hotspot: units",
        description="Communities and streets with the most incidents, against the previous "
        "period (the weekly analysis meeting view).",
        panels=panels,
        variables=(district_variable(),),
        time_from="now-7d",
        refresh="5m",
    )
