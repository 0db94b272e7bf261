"""Command centre: where the hotspots are now, who owns them, and what the feeds are doing."""

from __future__ import annotations

from .dashboard import Dashboard, district_variable, source_variable
from .fragments import in_districts, in_sources, unit_names
from .panels import (
    Query,
    Threshold,
    by_name,
    geomap,
    heatmap_layer,
    markers_layer,
    stat,
    table,
    timeseries,
)

__all__ = ["command_centre"]

# Flags whose latest version was computed in the range: a live flag updates every slide.
_ACTIVE_FLAGS = f"""
    SELECT flag_id, lat, lon, round(score, 2) AS score, status, observed,
           round(expected, 1) AS expected, community_code, station_id, opened_time,
           boundary_time AS updated_time
    FROM flags FINAL
    WHERE boundary_time >= $__fromTime AND opened_time <= $__toTime AND {in_districts()}
    ORDER BY score DESC
"""

_ALERT_HEAT = f"""
    SELECT lat, lon, severity AS weight
    FROM alerts
    WHERE $__timeFilter(event_time) AND severity > 0 AND {in_sources()} AND {in_districts()}
    LIMIT 50000
"""

_OPEN_FLAGS = f"""
    SELECT f.flag_id AS flag, f.opened_time AS opened, f.boundary_time AS updated,
           round(f.score, 2) AS score, round(f.recurrence_days, 1) AS by_chance_every_days,
           f.observed AS alerts, round(f.expected, 1) AS expected, f.n_sources AS feeds,
           f.station_id AS station, s.name AS station_name,
           f.community_code AS community, c.name AS community_name, f.lat AS lat, f.lon AS lon
    FROM flags AS f FINAL
    LEFT JOIN {unit_names("community")} AS c ON c.code = f.community_code
    LEFT JOIN {unit_names("station")} AS s ON s.code = f.station_id
    WHERE f.status != 'close' AND f.boundary_time >= $__fromTime AND f.opened_time <= $__toTime
      AND {in_districts("f.district_code")}
    ORDER BY score DESC
"""

_ALERTS_PER_MINUTE = f"""
    SELECT $__timeInterval(event_time) AS time, source,
           count() * 60 / $__interval_s AS alerts_per_minute
    FROM alerts FINAL
    WHERE $__timeFilter(event_time) AND {in_sources()} AND {in_districts()}
    GROUP BY time, source
    ORDER BY time
"""

_CORROBORATED = f"""
    SELECT i.first_time AS first_alert, i.last_time AS last_alert, i.n_sources AS feeds,
           arrayStringConcat(arraySort(mapKeys(i.source_counts)), ', ') AS sources,
           i.n_alerts AS alerts, round(i.max_severity, 2) AS max_severity,
           i.community_code AS community, c.name AS community_name, i.station_id AS station,
           i.lat AS lat, i.lon AS lon, i.incident_id AS incident
    FROM incidents AS i FINAL
    LEFT JOIN {unit_names("community")} AS c ON c.code = i.community_code
    WHERE $__timeFilter(i.first_time) AND i.n_sources >= 2 AND {in_districts("i.district_code")}
    ORDER BY first_alert DESC
    LIMIT 500
"""

_OPEN_FLAG_COUNT = f"""
    SELECT count() AS open_flags FROM flags FINAL
    WHERE status != 'close' AND boundary_time >= $__fromTime AND opened_time <= $__toTime
      AND {in_districts()}
"""

_CORROBORATED_COUNT = f"""
    SELECT count() AS corroborated FROM incidents FINAL
    WHERE $__timeFilter(first_time) AND n_sources >= 2 AND {in_districts()}
"""


def command_centre() -> Dashboard:
    panels = (
        stat(
            "Flags open now",
            Query(_OPEN_FLAG_COUNT),
            width=6,
            steps=(Threshold("green"), Threshold("orange", 1), Threshold("red", 5)),
        ),
        stat(
            "Corroborated incidents",
            Query(_CORROBORATED_COUNT),
            width=6,
            description="Incidents reported by at least two different feeds.",
        ),
        timeseries(
            "Alerts per minute by feed",
            Query(_ALERTS_PER_MINUTE, time_series=True),
            unit="short",
            width=12,
            height=4,
        ),
        geomap(
            "Live hotspots",
            (Query(_ACTIVE_FLAGS, "A"), Query(_ALERT_HEAT, "B")),
            [
                heatmap_layer("Alert heat", "B", weight="weight"),
                markers_layer("Hotspot flags", "A", size="score", colour="score"),
            ],
            thresholds=(Threshold("orange"), Threshold("red", 10)),
            width=14,
            height=14,
            description="Flags updated in the range (markers, sized and coloured by score) "
            "over the heat of counted alerts.",
        ),
        table(
            "Open flags",
            Query(_OPEN_FLAGS),
            width=10,
            height=14,
            sort="score",
            description="Flags not closed, with the responsible station and community, and "
            "each one's recurrence interval: how many days one would wait for a cluster this "
            "strong by chance anywhere in the city (0: unknown, stored before it existed).",
            overrides=(
                by_name(
                    "score",
                    **{
                        "custom.cellOptions": {"type": "color-background"},
                        "color": {"mode": "continuous-YlRd"},
                    },
                ),
            ),
        ),
        table(
            "Corroborated incidents",
            Query(_CORROBORATED),
            width=24,
            height=9,
            description="Alerts linked in space and time from two or more feeds.",
        ),
    )
    return Dashboard(
        uid="hotspot-command-centre",
        title="Hotspot: command centre",
        description="Live hotspots, open flags by station and community, feed activity.",
        panels=panels,
        variables=(district_variable(), source_variable()),
        time_from="now-1h",
        refresh="30s",
    )
