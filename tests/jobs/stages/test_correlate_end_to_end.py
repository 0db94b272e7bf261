"""The correlate stage end to end: a planted cluster becomes a flag on ``hotspots.flags`` and a
corroborated incident on ``incidents.correlated``; a late alert is dead-lettered as ``late``.

Real Tansu broker, worker as its own process, run twice: the second run only sees the alerts
that move the watermark past the cluster (one in every feed partition: the watermark is the
least progress of them all), so the flag also proves the correlator state survived the
restart.
"""

from __future__ import annotations

import time

import msgspec
import numpy as np
import pytest

from pipeline.geo.projection import LocalProjection
from pipeline.outputs import FlagMessage, IncidentMessage
from pipeline.warehouse import open_warehouse
from tests.jobs.test_worker import (
    deadletters,
    encode,
    produce,
    read_topic,
    tick_every_feed_partition,
)

pytestmark = pytest.mark.timeout(600)

MINUTE = 60_000


def cluster(lat: float, lon: float, t0: int) -> list[tuple[str, dict]]:
    """20 alerts of 110 and camera on a 5 x 4 lattice 60 m apart within 90 s of event time:
    far enough apart that none collapses into another's burst, close enough to link."""
    projection = LocalProjection(lat, lon)
    gx, gy = np.meshgrid(np.arange(5) * 60.0, np.arange(4) * 60.0)
    lats, lons = projection.to_latlon(gx.ravel(), gy.ravel())
    categories = ["robbery", "assault", "theft", "dispute", "public_order"]
    alerts = []
    for i, (a, o) in enumerate(zip(lats.tolist(), lons.tolist(), strict=True)):
        t = t0 + i * 4_000
        if i % 2:
            alerts.append(
                (
                    "dispatch_110",
                    {
                        "incident_id": f"d{i}",
                        "received_at": t,
                        "category": categories[i % 5],
                        "priority": 1,
                        "lat": a,
                        "lon": o,
                    },
                )
            )
        else:
            alerts.append(
                (
                    "camera",
                    {
                        "alert_id": f"c{i}",
                        "camera_id": f"cam{i}",
                        "detected_at": t,
                        "kind": "fight",
                        "confidence": 0.95,
                        "lat": a,
                        "lon": o,
                    },
                )
            )
    return alerts


def test_a_planted_cluster_is_flagged_and_routed_to_its_station(worker_config, located):
    lat, lon, _ = located
    settings = worker_config.settings
    topics = settings.topics
    t0 = (int(time.time() * 1000) // MINUTE - 90) * MINUTE
    produce(
        worker_config.bootstrap,
        [(topics.feed(feed), encode(alert)) for feed, alert in cluster(lat, lon, t0)],
    )
    worker_config.run_worker()

    # Every feed partition moves on 40 minutes (each is an origin the watermark waits for);
    # then, behind the camera partition's tick, an alert 35 minutes older than it.
    tick_every_feed_partition(worker_config, t0 + 40 * MINUTE, lat, lon)
    too_late = {
        "alert_id": "late-1",
        "camera_id": "cam-tick",
        "detected_at": t0 + 5 * MINUTE,
        "kind": "fight",
        "confidence": 1.0,
        "lat": lat,
        "lon": lon,
    }
    produce(worker_config.bootstrap, [(topics.camera, encode(too_late))], partition=0)
    worker_config.run_worker()

    flag_records = read_topic(worker_config.bootstrap, topics.flags)
    flags = [msgspec.json.decode(r.value, type=FlagMessage) for r in flag_records]
    assert flags, "the cluster opened a flag"
    assert all(r.key.decode() == f.flag_id for r, f in zip(flag_records, flags, strict=True))
    opened = [f for f in flags if f.status == "open"]
    assert len(opened) == 1
    flag = opened[0]
    assert flag.station_id and flag.community_code and flag.grid_code
    assert flag.observed >= 10 and flag.observed >= 2 * flag.expected
    assert set(flag.source_counts) == {"camera", "dispatch_110"}
    versions = [f.version for f in flags if f.flag_id == flag.flag_id]
    assert versions == sorted(versions) and versions[0] == 1

    incidents = [
        msgspec.json.decode(r.value, type=IncidentMessage)
        for r in read_topic(worker_config.bootstrap, topics.incidents)
    ]
    corroborated = [i for i in incidents if i.n_sources == 2]
    assert len(corroborated) == 1 and corroborated[0].n_alerts == 20

    late = [
        d
        for d in deadletters(worker_config.bootstrap, topics.deadletter)
        if d.reason.value == "late"
    ]
    assert [d.alert_id for d in late] == ["camera:late-1"]

    with open_warehouse(settings.resolved_warehouse_url) as wh:
        stored = wh.query(f"SELECT flag_id, station_id FROM {wh.database}.flags FINAL")
    assert (flag.flag_id, flag.station_id) in stored
