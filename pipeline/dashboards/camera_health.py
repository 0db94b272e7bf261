"""Camera health: how much of the range each district's cameras were online, against a 95 %
target, and where offline cameras cluster now.

The cameras are those of the inventory (``cameras``, from the city's cameras file:
:mod:`pipeline.cameras`) in service during the range, each counted from its installation to its
retirement within it, so a camera that sends nothing, or has been dark for weeks, still counts.
Cameras announce going dark (``offline``) and coming back (``online``) on the camera feed; the
notices are kept apart (``camera_status``), so each camera's status at the range's start is its
last notice before it, however long ago, and an outage runs from an ``offline`` notice to the
camera's next notice (or the range's end). The rate is online camera-time over in-service
camera-time.
"""

from __future__ import annotations

from .dashboard import Dashboard, district_variable
from .fragments import in_districts, nested, unit_names
from .panels import Query, Threshold, bargauge, geomap, heatmap_layer, markers_layer, stat, table

__all__ = ["camera_health", "ONLINE_TARGET"]

ONLINE_TARGET = 0.95

_FROM64 = "toDateTime64($__fromTime, 3, 'UTC')"
_TO64 = "toDateTime64($__toTime, 3, 'UTC')"

# The inventory's cameras in service during the range, with the part of it they were.
_IN_SERVICE = f"""
    SELECT camera_id, district_code AS camera_district,
           greatest(installed_at, {_FROM64}) AS since,
           least(ifNull(retired_at, {_TO64}), {_TO64}) AS until
    FROM cameras FINAL
    WHERE installed_at < {_TO64} AND ifNull(retired_at, {_TO64}) > {_FROM64}
      AND {in_districts()}
"""

# Each camera's status from the range's start: its last notice before the start (moved to the
# start), then its notices in the range, each lasting until the next one.
_STATUS_SPANS = f"""
    SELECT camera_id, category, t,
           leadInFrame(t, 1, {_TO64}) OVER (
               PARTITION BY camera_id ORDER BY t
               ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS t_next
    FROM (
        SELECT camera_id, argMax(category, event_time) AS category, {_FROM64} AS t
        FROM camera_status FINAL
        WHERE event_time <= {_FROM64}
        GROUP BY camera_id
        UNION ALL
        SELECT camera_id, category, event_time AS t
        FROM camera_status FINAL
        WHERE event_time > {_FROM64} AND event_time <= {_TO64}
    )
"""

# Per camera: in-service and offline milliseconds in the range.
_CAMERA_TIME = f"""
    SELECT c.camera_id AS camera_id, any(c.camera_district) AS camera_district,
           dateDiff('millisecond', any(c.since), any(c.until)) AS service_ms,
           sum(if(s.category = 'offline',
                  greatest(0, dateDiff('millisecond', greatest(s.t, c.since),
                                       least(s.t_next, c.until))),
                  0)) AS down_ms
    FROM {nested(_IN_SERVICE, 4)} AS c
    LEFT JOIN {nested(_STATUS_SPANS, 4)} AS s ON s.camera_id = c.camera_id
    GROUP BY c.camera_id
"""


def _online_rate(group_by_district: bool) -> str:
    key = "t.camera_district AS district_code, d.name AS district, " if group_by_district else ""
    tail = (
        f"LEFT JOIN {unit_names('district')} AS d ON d.code = t.camera_district\n"
        "        GROUP BY t.camera_district, d.name\n        ORDER BY t.camera_district"
        if group_by_district
        else ""
    )
    return f"""
        SELECT {key}count() AS cameras,
               round(1 - sum(t.down_ms) / greatest(1, sum(t.service_ms)), 6) AS online_rate
        FROM {nested(_CAMERA_TIME, 8)} AS t
        {tail}
    """


# Inventory cameras whose last notice up to the range's end says offline, at their place.
_OFFLINE_NOW = f"""
    SELECT c.camera_id AS camera_id, c.lat AS lat, c.lon AS lon, n.since AS offline_since,
           c.grid_code AS grid_code, c.community_code AS community_code,
           c.station_id AS station_id
    FROM cameras AS c FINAL
    INNER JOIN (
        SELECT camera_id, max(event_time) AS since
        FROM camera_status FINAL
        WHERE event_time <= $__toTime
        GROUP BY camera_id
        HAVING argMax(category, event_time) = 'offline'
    ) AS n ON n.camera_id = c.camera_id
    WHERE ifNull(c.retired_at, {_TO64}) >= {_TO64} AND {in_districts("c.district_code")}
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
