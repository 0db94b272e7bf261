"""Grid reports: what grid workers report, and how long reports take to resolve against the
30-hour target.

Each step of a report (``reported``, ``dispatched``, ``resolved``) is its own alert; all steps
of one report share ``report_ref``. Time to resolve is the first ``resolved`` step minus the
``reported`` step, for reports resolved in the range (reported up to 60 days before it).
"""

from __future__ import annotations

from .dashboard import Dashboard, district_variable
from .fragments import in_districts, nested, unit_names
from .panels import Query, Threshold, barchart, by_name, stat, table, timeseries

__all__ = ["grid_reports", "RESOLVE_TARGET_H"]

RESOLVE_TARGET_H = 30

_BY_CATEGORY_OVER_TIME = f"""
    SELECT $__timeInterval(event_time) AS time, category, count() AS reports
    FROM alerts FINAL
    WHERE source = 'grid_report' AND status = 'reported' AND $__timeFilter(event_time)
      AND {in_districts()}
    GROUP BY time, category
    ORDER BY time
"""

_VOLUME_BY_CATEGORY = f"""
    SELECT category, countIf(status = 'reported') AS reported,
           countIf(status = 'resolved') AS resolved
    FROM alerts FINAL
    WHERE source = 'grid_report' AND $__timeFilter(event_time) AND {in_districts()}
    GROUP BY category
    ORDER BY reported DESC
"""

# One row per report that has both its reported and its resolved step.
_RESOLVED = f"""
    SELECT report_ref, any(category) AS category, any(street_code) AS street_code,
           minIf(event_time, status = 'reported') AS reported_time,
           minIf(event_time, status = 'resolved') AS resolved_time,
           dateDiff('second', reported_time, resolved_time) / 3600 AS hours
    FROM alerts FINAL
    WHERE source = 'grid_report' AND report_ref != '' AND {in_districts()}
      AND event_time >= $__fromTime - INTERVAL 60 DAY AND event_time <= $__toTime
    GROUP BY report_ref
    HAVING countIf(status = 'reported') > 0 AND countIf(status = 'resolved') > 0
       AND resolved_time >= $__fromTime
"""

_TIME_TO_RESOLVE = f"""
    SELECT $__timeInterval(resolved_time) AS time,
           round(quantile(0.5)(hours), 2) AS median_hours,
           round(quantile(0.9)(hours), 2) AS p90_hours
    FROM {nested(_RESOLVED)}
    GROUP BY time
    ORDER BY time
"""

_WITHIN_TARGET = f"""
    SELECT round(countIf(hours <= {RESOLVE_TARGET_H}) / greatest(count(), 1), 4) AS within_target
    FROM {nested(_RESOLVED)}
"""

_BY_STREET = f"""
    SELECT r.street_code AS street, s.name AS street_name, count() AS resolved,
           round(quantile(0.5)(r.hours), 2) AS median_hours,
           countIf(r.hours > {RESOLVE_TARGET_H}) AS over_target
    FROM {nested(_RESOLVED)} AS r
    LEFT JOIN {unit_names("street")} AS s ON s.code = r.street_code
    GROUP BY r.street_code, s.name
    ORDER BY over_target DESC, median_hours DESC
"""

# Reported before the target ago and still without a resolved step.
_OVERDUE = f"""
    SELECT report_ref AS report, any(category) AS category,
           minIf(event_time, status = 'reported') AS reported_time,
           round(dateDiff('second', reported_time, $__toTime) / 3600, 1) AS open_hours,
           any(community_code) AS community, any(station_id) AS station
    FROM alerts FINAL
    WHERE source = 'grid_report' AND report_ref != '' AND {in_districts()}
      AND event_time >= $__toTime - INTERVAL 60 DAY AND event_time <= $__toTime
    GROUP BY report_ref
    HAVING countIf(status = 'reported') > 0 AND countIf(status = 'resolved') = 0
       AND reported_time <= $__toTime - INTERVAL {RESOLVE_TARGET_H} HOUR
    ORDER BY reported_time
    LIMIT 200
"""

_HOURS_RED_OVER_TARGET = by_name(
    "median_hours",
    **{
        "custom.cellOptions": {"type": "color-text"},
        "color": {"mode": "thresholds"},
        "thresholds": {
            "mode": "absolute",
            "steps": [
                {"color": "green", "value": None},
                {"color": "red", "value": RESOLVE_TARGET_H},
            ],
        },
    },
)


def grid_reports() -> Dashboard:
    panels = (
        stat(
            f"Resolved within {RESOLVE_TARGET_H} h",
            Query(_WITHIN_TARGET),
            unit="percentunit",
            steps=(Threshold("red"), Threshold("orange", 0.8), Threshold("green", 0.95)),
            width=6,
            height=8,
        ),
        barchart(
            "Volume by category", Query(_VOLUME_BY_CATEGORY), x="category", width=18, height=8
        ),
        timeseries(
            "New reports by category",
            Query(_BY_CATEGORY_OVER_TIME, time_series=True),
            bars=True,
            width=12,
            height=9,
        ),
        timeseries(
            f"Time to resolve (target {RESOLVE_TARGET_H} h)",
            Query(_TIME_TO_RESOLVE, time_series=True),
            unit="h",
            target=RESOLVE_TARGET_H,
            width=12,
            height=9,
        ),
        table(
            "Time to resolve by street",
            Query(_BY_STREET),
            width=12,
            height=10,
            overrides=(_HOURS_RED_OVER_TARGET,),
        ),
        table(f"Open past {RESOLVE_TARGET_H} h", Query(_OVERDUE), width=12, height=10),
    )
    return Dashboard(
        uid="hotspot-grid-reports",
        title="Hotspot: grid reports",
        description=__doc__.splitlines()[0],
        panels=panels,
        variables=(district_variable(),),
        time_from="now-7d",
        refresh="5m",
    )
