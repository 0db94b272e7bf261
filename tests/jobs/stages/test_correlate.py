"""The correlate stage dead-letters a late alert with its own row, not its whole record, and
takes a poll's watermark marks in offset order among its alerts (jobs/stages/correlate.py).

Real Tansu broker, worker as its own process, chDB read back after. An ``alerts.normalized``
record holds many alerts; the dead letter of one late alert names the record it came in
(topic, partition, offset) and seals that alert's row alone.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from aiokafka.structs import ConsumerRecord

from jobs.consumer import Polled
from jobs.stages.correlate import split_poll
from pipeline.deadletter import Sealer
from pipeline.envelope import encode_envelopes, envelope_table, read_envelopes
from pipeline.geo.admin_units import load_registry
from pipeline.marks import MARK_KEY, NO_PROGRESS, Marks, Origins, encode_marks
from pipeline.normalize import NormalizeContext, normalize
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


def _poll(records: dict[int, list[tuple[bytes | None, bytes]]]) -> Polled:
    """A poll of alerts.normalized: per partition, its (key, value) records in offset order."""
    return Polled.of(
        "t.normalized",
        {
            p: [
                ConsumerRecord("t.normalized", p, o, 0, 0, k, v, None, 0, 0, ())
                for o, (k, v) in enumerate(rs)
            ]
            for p, rs in records.items()
        },
    )


def _envelope(settings, registry, lat, lon, ids: list[str], origin: list[int]) -> bytes:
    values = [encode(camera(i, lat=lat, lon=lon)) for i in ids]
    batch = normalize("camera", values, NormalizeContext.from_settings(settings, registry))
    (value,) = encode_envelopes(
        envelope_table(batch, registry),
        np.arange(len(ids)),
        np.full(len(ids), b"0:0"),
        np.zeros(len(ids), bool),
        origins=Origins(np.array(origin), np.full(len(ids), NO_PROGRESS)),
    )
    return value


def test_a_poll_splits_into_alerts_and_marks_in_offset_order(worker_config, located):
    lat, lon, _ = located
    settings = worker_config.settings
    registry = load_registry(settings.registry_path)

    def mark(origin: int, t: int) -> tuple[bytes, bytes]:
        return MARK_KEY, encode_marks(Marks(np.array([origin]), np.array([t])))[0]

    polled = _poll(
        {
            0: [
                (None, _envelope(settings, registry, lat, lon, ["a", "b"], [1, 2])),
                mark(1, 500),
                (None, _envelope(settings, registry, lat, lon, ["c"], [3])),
                mark(2, 600),
                mark(3, 700),
            ],
            1: [mark(0, 100), (MARK_KEY, b"{not json"), mark(99, 5)],
        }
    )
    split = split_poll(polled, registry, origins=8)
    assert split.decoded.alerts.alert_id.tolist() == ["camera:a", "camera:b", "camera:c"]
    assert split.decoded.origins.origin.tolist() == [1, 2, 3]
    assert split.decoded.record.tolist() == [0, 0, 2]  # the poll's records
    rows = split.rows(polled)
    assert {p: r.tolist() for p, r in rows.items()} == {0: [0, 1, 2], 1: []}
    at, marks = split.marks[0]
    assert at.tolist() == [2, 3, 3]  # after a and b; after c; after c
    assert marks.origin.tolist() == [1, 2, 3] and marks.progress_ms.tolist() == [500, 600, 700]
    at, marks = split.marks[1]
    assert at.tolist() == [0] and marks.origin.tolist() == [0]
    assert [(r.index, r.reason.value) for r in split.bad] == [
        (6, "malformed_record"),
        (7, "invalid_value"),
    ]
