"""A normaliser's progress at its committed offsets, read back from the watermark marks on
alerts.normalized (jobs/mark_reader.py), on a real Tansu broker."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

import jobs.mark_reader
from jobs.mark_reader import progress_at
from pipeline.kafka import ensure_topics
from pipeline.marks import MARK_KEY, Marks, encode_marks


def mark(origin: int, progress_ms: int, offset: int | None) -> tuple[bytes, bytes]:
    marks = Marks(
        np.array([origin]), np.array([progress_ms]), np.array([-1 if offset is None else offset])
    )
    return MARK_KEY, encode_marks(marks)[0]


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key, partition=0)
    finally:
        await producer.stop()


@pytest.fixture
def normalized(broker) -> str:
    topic = f"normalized-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [topic], 2)
    records = [
        (None, b"an envelope"),
        mark(1, 100, 10),
        mark(2, 50, 4),
        (None, b"another envelope"),
        mark(1, 150, 20),  # origin 1 up to offset 20
        mark(1, 170, None),  # an old worker's mark: no offset, ignored
        (b"hotspot.watermark", b"{not a mark"),  # unreadable: skipped
        mark(1, 900, 30),  # published, but its batch was not committed (committed: 20)
        mark(3, 70, 5),
    ]
    records += [(None, b"filler")] * 20  # the marks are more than one small step back
    asyncio.run(_produce(broker.bootstrap, topic, records))
    return topic


@pytest.mark.parametrize("step", [jobs.mark_reader.FIRST_STEP, 3])
def test_the_progress_of_the_newest_mark_at_or_before_each_committed_offset(
    broker, normalized, monkeypatch, step
):
    monkeypatch.setattr(jobs.mark_reader, "FIRST_STEP", step)
    found = asyncio.run(
        progress_at(broker.bootstrap, normalized, {1: 20, 2: 4, 3: 4, 5: 100}, origins=8)
    )
    # 3: its only mark speaks for offsets up to 5, past the committed 4; 5: no mark at all
    assert found == {1: 150, 2: 50}


def test_nothing_committed_reads_nothing(broker, normalized):
    assert asyncio.run(progress_at(broker.bootstrap, normalized, {}, origins=8)) == {}
