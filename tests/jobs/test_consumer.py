"""The poll loop keeps going past records it cannot use (jobs/consumer.py and its stages).

Real Tansu broker, worker as its own process. A record that this pipeline did not write lands
on ``alerts.normalized`` and on ``hotspots.flags``: the envelope is dead-lettered with its
reason, the flag record is skipped, and every good alert is still stored.
"""

from __future__ import annotations

import pytest

from pipeline.warehouse import open_warehouse
from tests.jobs.test_worker import camera, deadletters, encode, produce

pytestmark = pytest.mark.timeout(600)


def test_a_foreign_record_on_our_topics_is_isolated_and_the_rest_is_stored(worker_config, located):
    lat, lon, _ = located
    topics = worker_config.settings.topics
    good = [camera(f"c{i}", lat=lat, lon=lon) for i in range(5)]
    produce(worker_config.bootstrap, [(topics.camera, encode(m)) for m in good])
    produce(
        worker_config.bootstrap,
        [
            (topics.normalized, b'{"not": "an envelope"}'),
            (topics.normalized, b"\xff garbage"),
            (topics.flags, b"garbage"),
        ],
    )

    worker_config.run_worker()

    letters = deadletters(worker_config.bootstrap, topics.deadletter)
    assert sorted((d.topic, d.reason.value) for d in letters) == [
        (topics.normalized, "malformed_record"),
        (topics.normalized, "malformed_record"),
    ]
    with open_warehouse(worker_config.settings.resolved_warehouse_url) as wh:
        stored = {r[0] for r in wh.query(f"SELECT alert_id FROM {wh.database}.alerts FINAL")}
        flags = wh.query(f"SELECT count() FROM {wh.database}.flags")[0][0]
    assert stored == {f"camera:c{i}" for i in range(5)}
    assert flags == 0


def test_a_stage_with_every_s_waits_before_its_next_batch():
    """A sink's records gather while its interval runs (each insert has a fixed cost)."""
    import time

    from aiokafka import TopicPartition

    from jobs.consumer import Stage, _Lane

    async def handle(polls):
        return None

    lane = _Lane(Stage("sink", ("t",), handle, every_s=0.3))
    assert not lane.due()  # nothing waiting
    lane.pending[TopicPartition("t", 0)] = ["record"]
    assert lane.due()  # never started: due at once
    lane.started = time.monotonic()
    assert not lane.due()
    assert lane.due(hurry=True)  # a draining worker does not wait for the interval
    time.sleep(0.35)
    assert lane.due()
    assert _Lane(Stage("normalize", ("t",), handle)).stage.every_s == 0.0


def test_a_lane_takes_at_most_its_limit_earliest_first_when_aligned():
    """A backlog goes to its stage in parts: the earliest records across partitions first,
    each partition's in offset order, the rest in the next batch."""
    from types import SimpleNamespace

    from aiokafka import TopicPartition

    from jobs.consumer import Stage, _Lane

    async def handle(polls):
        return None

    def records(partition, stamps):
        return [
            SimpleNamespace(timestamp=t, offset=i, value=b"v", partition=partition)
            for i, t in enumerate(stamps)
        ]

    lane = _Lane(Stage("normalize", ("a", "b"), handle, aligned=True))
    lane.pending = {
        TopicPartition("a", 0): records(0, [1, 2, 5, 9]),
        TopicPartition("b", 0): records(0, [3, 4, 6, 7, 8]),
    }
    first = {p.topic: [r.timestamp for r in p.records] for p in lane.take(5)}
    assert first == {"a": [1, 2, 5], "b": [3, 4]}  # up to the 5th earliest stamp
    rest = {p.topic: [r.timestamp for r in p.records] for p in lane.take(100)}
    assert rest == {"a": [9], "b": [6, 7, 8]}
    assert not lane.pending

    unaligned = _Lane(Stage("sink", ("a",), handle))
    unaligned.pending = {
        TopicPartition("a", 0): records(0, [1, 2, 3]),
        TopicPartition("a", 1): records(1, [1, 2]),
    }
    (taken,) = unaligned.take(4)
    assert taken.partitions.tolist() == [0, 0, 0, 1]
    assert len(unaligned.pending[TopicPartition("a", 1)]) == 1
