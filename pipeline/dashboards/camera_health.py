"""Camera health: how much of the range each district's cameras were online, against a 95 %
target, and where offline cameras cluster now.

Cameras announce themselves going dark (``offline``) and coming back (``online``) on the camera
feed. A camera is known from any camera alert in the week before the range's end; an outage
runs from an ``offline`` notice to the camera's next notice (or the end of the range), looked up
from a day before the range so outages that began earlier count too.
"""

from __future__ import annotations

from .dashboard import Dashboard, district_variable
from .fragments import in_districts, nested, unit_names
from .panels import Query, Threshold, bargauge, geomap, heatmap_layer, markers_layer, stat, table

__all__ = ["camera_health", "ONLINE_TARGET"]

ONLINE_TARGET = 0.95

_FROM64 = "toDateTime64($__fromTime, 3, 'UTC')"
_TO64 = "toDateTime64($__toTime, 3, 'UTC')"

_CAMERAS = f"""
    SELECT camera_id, argMax(district_code, event_time) AS camera_district
    FROM alerts
    WHERE source = 'camera' AND camera_id != '' AND event_time <= $__toTime
      AND event_time >= $__toTime - INTERVAL 7 DAY AND {in_districts()}
    GROUP BY camera_id
"""

_DOWN_SECONDS = f"""
    SELECT camera_id, sum(greatest(0, dateDiff('millisecond', greatest(t, {_FROM64}),
                                               least(t_next, {_TO64})))) / 1000 AS down_s
    FROM (
        SELECT camera_id, category, event_time AS t,
               leadInFrame(event_time, 1, {_TO64}) OVER (
                   PARTITION BY camera_id ORDER BY event_time
                   ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS t_next
        FROM alerts FINAL
        WHERE source = 'camera' AND category IN ('offline', 'online')
          AND event_time >= $__fromTime - INTERVAL 1 DAY AND event_time <= $__toTime
    )
    WHERE category = 'offline'
    GROUP BY camera_id
"""


def _online_rate(group_by_district: bool) -> str:
    key = "c.camera_district AS district_code, d.name AS district, " if group_by_district else ""
    tail = (
        f"LEFT JOIN {unit_names('district')} AS d ON d.code = c.camera_district\n"
        "        GROUP BY c.camera_district, d.name\n        ORDER BY c.camera_district"
        if group_by_district
        else ""
    )
    return f"""
        SELECT {key}count() AS cameras,
               round(1 - sum(down.down_s)
                   / (count() * greatest(1, dateDiff('second', $__fromTime, $__toTime))), 4)
                   AS online_rate
        FROM {nested(_CAMERAS, 8)} AS c
        LEFT JOIN {nested(_DOWN_SECONDS, 8)} AS down ON down.camera_id = c.camera_id
        {tail}
    """


# Cameras whose latest notice before the range's end says offline, at their notice's place.
_OFFLINE_NOW = f"""
    SELECT camera_id, argMax(lat, event_time) AS lat, argMax(lon, event_time) AS lon,
           max(event_time) AS offline_since, argMax(grid_code, event_time) AS grid_code,
           argMax(community_code, event_time) AS community_code,
           argMax(station_id, event_time) AS station_id
    FROM alerts FINAL
    WHERE source = 'camera' AND category IN ('offline', 'online') AND event_time <= $__toTime
      AND event_time >= $__toTime - INTERVAL 7 DAY AND {in_districts()}
    GROUP BY camera_id
    HAVING argMax(category, event_time) = 'offline'
"""

_CLUSTERS = f"""
    SELECT o.community_code AS community, c.name AS community_name, o.station_id AS station,
           count() AS offline_cameras, groupUniqArray(o.grid_code) AS grid_cells,
           min(o.offline_since) AS oldest_outage, round(avg(o.lat), 6) AS lat,
           round(avg(o.lon), 6) AS lon
    FROM {nested(_OFFLINE_NOW)} AS o
    LEFT JOIN {unit_names("community")} AS c ON c.code = o.community_code
    GROUP BY o.community_code, c.name, o.station_id
    ORDER BY offline_cameras DESC
    LIMIT 50
"""

_OFFLINE_COUNT = f"SELECT count() AS offline_now FROM {nested(_OFFLINE_NOW, 0)}"

_TARGET_STEPS = (Threshold("red"), Threshold("green", ONLINE_TARGET))


def camera_health() -> Dashboard:
    panels = (
        stat(
            "City-wide online rate",
            Query(_online_rate(False)),
            unit="percentunit",
            steps=_TARGET_STEPS,
            width=6,
            height=5,
            description=f"Camera-time online in the range; target {ONLINE_TARGET:.0%}.",
        ),
        stat(
            "Cameras offline now",
            Query(_OFFLINE_COUNT),
            width=6,
            height=5,
            steps=(Threshold("green"), Threshold("orange", 1), Threshold("red", 20)),
        ),
        bargauge(
            f"Online rate per district (target {ONLINE_TARGET:.0%})",
            Query(_online_rate(True)),
            value="online_rate",
            unit="percentunit",
            steps=_TARGET_STEPS,
            minimum=0.8,
            maximum=1.0,
            width=12,
            height=10,
        ),
        geomap(
            "Offline cameras",
            (Query(_OFFLINE_NOW),),
            [heatmap_layer("Density", "A"), markers_layer("Offline camera", "A")],
            thresholds=(Threshold("red"),),
            width=12,
            height=12,
        ),
        table(
            "Clusters of offline cameras (by community)",
            Query(_CLUSTERS),
            width=12,
            height=12,
            sort="offline_cameras",
        ),
    )
    return Dashboard(
        uid="hotspot-camera-health",
        title="Hotspot: camera health",
        description=__doc__.splitlines()[0],
        panels=panels,
        variables=(district_variable(),),
        time_from="now-24h",
        refresh="5m",
    )
