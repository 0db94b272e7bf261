"""The correlate stage dead-letters a late alert with its own row, not its whole record
(jobs/stages/correlate.py).

Real Tansu broker, worker as its own process, chDB read back after. An ``alerts.normalized``
record holds many alerts; the dead letter of one late alert names the record it came in
(topic, partition, offset) and seals that alert's row alone.
"""

from __future__ import annotations

import json

import pytest

from pipeline.deadletter import Sealer
from pipeline.envelope import read_envelopes
from tests.conftest import PSEUDONYM_KEY
from tests.jobs.test_worker import camera, deadletters, encode, now_ms, produce, read_topic

pytestmark = pytest.mark.timeout(600)


def test_a_late_alert_is_dead_lettered_with_its_own_row(worker_config, located):
    lat, lon, _ = located
    topics = worker_config.settings.topics
    fresh = [camera(f"fresh-{i}", lat=lat, lon=lon) for i in range(3)]
    produce(worker_config.bootstrap, [(topics.camera, encode(m)) for m in fresh], partition=0)
    # produced after the fresh ones, 30 minutes behind them: far behind the watermark
    late = camera("late-1", lat=lat, lon=lon, detected_at=now_ms() - 30 * 60_000)
    produce(worker_config.bootstrap, [(topics.camera, encode(late))], partition=0)

    worker_config.run_worker()

    letters = [
        d
        for d in deadletters(worker_config.bootstrap, topics.deadletter)
        if d.reason.value == "late"
    ]
    assert [(d.alert_id, d.topic, d.source) for d in letters] == [
        ("camera:late-1", topics.normalized, "camera")
    ]
    (letter,) = letters
    record = next(
        r
        for r in read_topic(worker_config.bootstrap, topics.normalized)
        if (r.partition, r.offset) == (letter.partition, letter.offset)
    )
    assert "camera:late-1" in {e.alert_id for e in read_envelopes([record.value])}
    payload = json.loads(Sealer(PSEUDONYM_KEY.encode()).open(letter.payload_sealed))
    assert payload["alert_id"] == "camera:late-1" and payload["halo"] is False
    assert payload["camera_id"] == late["camera_id"] and payload["lat"] == lat
