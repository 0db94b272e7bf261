"""Notice receipt: whether stations take their notices within 5 minutes, this week and over time;
the notices still unacknowledged with their age (red once overdue), escalations, time to arrive.

Read from ``notice_events`` (the patrol loop's events, ``pipeline.patrol``), a notice counting in
the range of its issue time. "Received" is the first action of the notice (a first
``dispatched`` is also its receipt), carrying ``receipt_s``; the 5 minutes are the default
``notice_receipt_s`` (the dashboard is generated, so a city with another delay rebuilds it).
"""

from __future__ import annotations

from .dashboard import Dashboard, district_variable
from .fragments import in_districts, nested, unit_names
from .panels import Query, Threshold, bargauge, by_name, stat, table, timeseries

__all__ = ["notice_receipt", "RECEIPT_TARGET_S", "RECEIPT_SHARE_TARGET"]

#: the SLA: received within this many seconds of the issue (notice_receipt_s's default)
RECEIPT_TARGET_S = 300
#: the share of notices received in time a station should reach
RECEIPT_SHARE_TARGET = 0.95

# One row per notice issued in the range: its station and district, when it was received (or
# NULL), whether it was escalated, and when a unit arrived (or NULL).
_NOTICES = f"""
    SELECT notice_id, any(station_id) AS station, any(district_code) AS district,
           min(issued_time) AS issued, anyIf(receipt_s, receipt_s IS NOT NULL) AS receipt,
           countIf(kind = 'escalated') > 0 AS was_escalated,
           minIf(toNullable(at_time), kind = 'arrived') AS arrived
    FROM notice_events FINAL
    WHERE issued_time >= $__fromTime AND issued_time <= $__toTime AND {in_districts()}
    GROUP BY notice_id
"""

_SHARE_PER_STATION = f"""
    SELECT n.station AS station_id, s.name AS station, count() AS notices,
           round(countIf(n.receipt <= {RECEIPT_TARGET_S}) / count(), 4) AS within_5_min
    FROM {nested(_NOTICES)} AS n
    LEFT JOIN {unit_names("station")} AS s ON s.code = n.station
    GROUP BY n.station, s.name
    ORDER BY within_5_min, n.station
"""

_SHARE_TREND = f"""
    SELECT $__timeInterval(issued) AS time,
           round(countIf(receipt <= {RECEIPT_TARGET_S}) / count(), 4) AS within_5_min
    FROM {nested(_NOTICES)}
    GROUP BY time
    ORDER BY time
"""

_SHARE_CITY = f"""
    SELECT round(countIf(receipt <= {RECEIPT_TARGET_S}) / greatest(1, count()), 4) AS within_5_min
    FROM {nested(_NOTICES)}
"""

# Notices with no receipt by the range's end, issued in the day before it (older ones were
# escalated long ago and stay on the monthly accountability list).
_OPEN = f"""
    SELECT notice_id, any(station_id) AS station, any(community_code) AS community,
           any(grid_code) AS grid_cell, min(issued_time) AS issued,
           round(dateDiff('second', min(issued_time), $__toTime) / 60, 1) AS age_min,
           countIf(kind = 'escalated') > 0 AS escalated_to_city,
           max(score) AS score
    FROM notice_events FINAL
    WHERE at_time <= $__toTime AND issued_time >= $__toTime - INTERVAL 1 DAY
      AND {in_districts()}
    GROUP BY notice_id
    HAVING countIf(receipt_s IS NOT NULL) = 0
    ORDER BY age_min DESC
    LIMIT 100
"""

_ESCALATIONS = f"""
    SELECT countIf(kind = 'escalated') AS escalations
    FROM notice_events FINAL
    WHERE at_time >= $__fromTime AND at_time <= $__toTime AND {in_districts()}
"""

_ESCALATIONS_PER_STATION = f"""
    SELECT n.station AS station_id, s.name AS station, countIf(n.was_escalated) AS escalated,
           countIf(n.was_escalated AND n.receipt IS NULL) AS never_received, count() AS notices
    FROM {nested(_NOTICES)} AS n
    LEFT JOIN {unit_names("station")} AS s ON s.code = n.station
    GROUP BY n.station, s.name
    HAVING escalated > 0
    ORDER BY escalated DESC, n.station
"""

_TIME_TO_ARRIVE = f"""
    SELECT n.station AS station_id, s.name AS station, count() AS arrivals,
           round(quantile(0.5)(dateDiff('second', n.issued, n.arrived) / 60), 1) AS median_min,
           round(quantile(0.9)(dateDiff('second', n.issued, n.arrived) / 60), 1) AS p90_min
    FROM {nested(_NOTICES)} AS n
    LEFT JOIN {unit_names("station")} AS s ON s.code = n.station
    WHERE n.arrived IS NOT NULL
    GROUP BY n.station, s.name
    ORDER BY median_min DESC
"""

_SHARE_STEPS = (Threshold("red"), Threshold("green", RECEIPT_SHARE_TARGET))

_AGE_RED_WHEN_OVERDUE = by_name(
    "age_min",
    **{
        "custom.cellOptions": {"type": "color-background"},
        "color": {"mode": "thresholds"},
        "thresholds": {
            "mode": "absolute",
            "steps": [
                {"color": "green", "value": None},
                {"color": "red", "value": RECEIPT_TARGET_S / 60},
            ],
        },
    },
)


def notice_receipt() -> Dashboard:
    minutes = RECEIPT_TARGET_S // 60
    panels = (
        stat(
            f"Received within {minutes} min, city-wide",
            Query(_SHARE_CITY),
            unit="percentunit",
            steps=_SHARE_STEPS,
            width=6,
            height=5,
            description=f"Notices issued in the range; target {RECEIPT_SHARE_TARGET:.0%}.",
        ),
        stat(
            "Escalations",
            Query(_ESCALATIONS),
            width=6,
            height=5,
            steps=(Threshold("green"), Threshold("red", 1)),
            description="Notices nobody received within 30 minutes, escalated to the district "
            "and the city command centre in the range.",
        ),
        timeseries(
            f"Received within {minutes} min, trend",
            Query(_SHARE_TREND, time_series=True),
            unit="percentunit",
            target=RECEIPT_SHARE_TARGET,
            width=12,
            height=5,
        ),
        bargauge(
            f"Received within {minutes} min, per station",
            Query(_SHARE_PER_STATION),
            value="within_5_min",
            unit="percentunit",
            steps=_SHARE_STEPS,
            minimum=0.0,
            maximum=1.0,
            width=12,
            height=10,
        ),
        table(
            "Open unacknowledged notices (age in minutes, red when overdue)",
            Query(_OPEN),
            width=12,
            height=10,
            sort="age_min",
            overrides=(_AGE_RED_WHEN_OVERDUE,),
        ),
        table(
            "Escalations per station",
            Query(_ESCALATIONS_PER_STATION),
            width=12,
            height=8,
            sort="escalated",
        ),
        table(
            "Time to arrive per station (minutes from the issue)",
            Query(_TIME_TO_ARRIVE),
            width=12,
            height=8,
            sort="median_min",
        ),
    )
    return Dashboard(
        uid="hotspot-notice-receipt",
        title="Hotspot: notice receipt",
        description=__doc__.splitlines()[0],
        panels=panels,
        variables=(district_variable(),),
        time_from="now-7d",
        refresh="1m",
    )
