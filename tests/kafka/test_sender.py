"""Sending replay chunks to a real Tansu broker: recorded times kept as record timestamps,
topics renamed, a start time honoured, paced sends spread over the recorded span, a stop
honoured, and an unreachable broker reported as a :class:`BrokerError`."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest

from pipeline.exceptions import BrokerError
from pipeline.kafka import Pacing, ensure_topics, free_port, send_chunks
from pipeline.replay.chunks import NO_TIMESTAMP, RecordChunk
from tests.jobs.test_worker import read_topic

pytestmark = pytest.mark.timeout(120)


def chunk(ts: list[int]) -> RecordChunk:
    n = len(ts)
    return RecordChunk(
        np.full(n, "alerts.camera", dtype=object),
        [f"k{i}" for i in range(n)],
        [f'{{"n": {i}}}'.encode() for i in range(n)],
        np.array(ts, np.int64),
        np.arange(1, n + 1),
    )


@pytest.fixture
def topic(broker):
    name = f"{uuid.uuid4().hex[:8]}.camera"
    ensure_topics(broker.bootstrap, [name], 1)
    return name


def test_records_keep_their_times_keys_and_order(broker, topic):
    t0 = int(time.time() * 1000) - 3_600_000
    ts = [t0 + 1000 * i for i in range(50)] + [NO_TIMESTAMP]
    seen = []
    sent = send_chunks(
        [chunk(ts[:20]), chunk(ts[20:])],
        broker.bootstrap,
        topic_map={"alerts.camera": topic},
        progress=lambda n, newest: seen.append((n, newest)),
    )
    records = read_topic(broker.bootstrap, topic)
    assert sent == len(records) == 51
    assert [r.timestamp for r in records[:50]] == ts[:50]
    assert records[50].timestamp >= t0 + 3_600_000 - 60_000  # no recorded time: sent now
    assert [r.key for r in records[:3]] == [b"k0", b"k1", b"k2"]
    assert sum(n for n, _ in seen) == 51 and seen[-1][1] == ts[49]


def test_start_skips_what_was_recorded_before_it(broker, topic):
    t0 = int(time.time() * 1000) - 3_600_000
    ts = [t0 + 1000 * i for i in range(30)]
    sent = send_chunks(
        [chunk(ts)],
        broker.bootstrap,
        topic_map={"alerts.camera": topic},
        pacing=Pacing(start_ms=t0 + 10_500),
    )
    assert sent == 19
    assert [r.timestamp for r in read_topic(broker.bootstrap, topic)] == ts[11:]


def test_paced_records_go_out_at_the_recorded_pace_times_speed(broker, topic):
    t0 = int(time.time() * 1000) - 3_600_000
    ts = [t0 + 3000 * i for i in range(21)]  # 60 s recorded
    began = time.monotonic()
    send_chunks(
        [chunk(ts)], broker.bootstrap, topic_map={"alerts.camera": topic}, pacing=Pacing(speed=60.0)
    )
    assert time.monotonic() - began >= 1.0  # 60 s at 60x is at least one second
    with pytest.raises(ValueError, match="speed"):
        Pacing(speed=0)


def test_a_set_stop_event_ends_the_replay_before_the_next_record(broker, topic):
    t0 = int(time.time() * 1000) - 3_600_000
    stop = threading.Event()
    stop.set()
    sent = send_chunks(
        [chunk([t0 + i for i in range(10)])],
        broker.bootstrap,
        topic_map={"alerts.camera": topic},
        stop=stop,
    )
    assert sent == 0


def test_an_unreachable_broker_is_a_broker_error_that_names_the_address():
    with pytest.raises(BrokerError, match=r"cannot reach Kafka at 127\.0\.0\.1:\d+"):
        send_chunks([chunk([0])], f"127.0.0.1:{free_port()}")


def test_keyless_records_go_round_robin_so_two_replays_fill_the_topics_alike(broker):
    """Issue 17: kafka-python puts a record without a key in a random partition, so two runs
    over one replay file got different feed partitions for the same alert, and with them
    different late decisions; records with a key keep the partitioner's choice."""
    t0 = int(time.time() * 1000) - 3_600_000
    keyless = RecordChunk(
        np.full(7, "alerts.camera", dtype=object),
        [None, None, "k", None, None, None, None],
        [f'{{"n": {i}}}'.encode() for i in range(7)],
        np.array([t0 + i for i in range(7)], np.int64),
        np.arange(1, 8),
    )
    placed = []
    for _ in range(2):
        name = f"{uuid.uuid4().hex[:8]}.camera"
        ensure_topics(broker.bootstrap, [name], 3)
        send_chunks([keyless], broker.bootstrap, topic_map={"alerts.camera": name})
        records = read_topic(broker.bootstrap, name)
        placed.append({r.value: r.partition for r in records if r.key is None})
    assert placed[0] == placed[1]
    in_order = [placed[0][bytes(v)] for i, v in enumerate(keyless.values) if i != 2]
    assert in_order == [0, 1, 2, 0, 1, 2]  # in turn, in the order of the records
