"""A backlog of several feeds reaches the correlators in arrival order (jobs/alignment.py).

Real Tansu broker, worker as its own process. Small fetches make the feeds' partitions advance
at different speeds: a fetch brings ~250 small camera records but only ~30 large dispatch
records. Handed on as fetched, the dispatch alerts would fall minutes behind the camera alerts
and be dead-lettered as late; aligned on record timestamps, none is.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaProducer

from tests.jobs.test_worker import deadletters, encode, envelopes

pytestmark = pytest.mark.timeout(600)

MINUTE = 60_000


def test_a_backlog_of_two_feeds_is_not_dead_lettered_as_late(worker_config, located):
    lat, lon, _ = located
    settings = worker_config.settings
    topics = settings.topics
    now = int(time.time() * 1000)
    start = now - 120 * MINUTE
    producer = KafkaProducer(bootstrap_servers=worker_config.bootstrap, linger_ms=5)
    for i in range(3000):  # alternating feeds, 2.4 s of event time apart, in arrival order
        t = start + i * 2_400
        if i % 2:
            topic, value = (
                topics.dispatch_110,
                {
                    "incident_id": f"d{i}",
                    "received_at": t,
                    "category": "theft",
                    "priority": 3,
                    "lat": lat,
                    "lon": lon,
                    "summary": "x" * 2000,
                },
            )
        else:
            topic, value = (
                topics.camera,
                {
                    "alert_id": f"c{i}",
                    "camera_id": "cam-1",
                    "detected_at": t,
                    "kind": "loitering",
                    "confidence": 0.5,
                    "lat": lat,
                    "lon": lon,
                },
            )
        producer.send(topic, value=encode(value), partition=(i // 2) % 2, timestamp_ms=t)
    producer.flush()
    producer.close()

    env = worker_config.env()
    env["HOTSPOT_FETCH_MAX_BYTES"] = str(64 * 1024)
    worker_config.env = lambda: env
    worker_config.run_worker()

    delivered = {e.alert_id for e in envelopes(worker_config.bootstrap, topics.normalized)}
    assert len(delivered) == 3000
    late = [
        d
        for d in deadletters(worker_config.bootstrap, topics.deadletter)
        if d.reason.value == "late"
    ]
    assert late == []
