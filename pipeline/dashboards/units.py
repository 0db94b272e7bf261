"""Units: the weekly analysis meeting's view, communities and streets by incidents against the
previous period of the same length."""

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
