"""A topic with a few records in known partitions, for the Kafka tests on a real Tansu broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from pipeline.kafka import ensure_topics


async def produce(bootstrap: str, topic: str, records: list[tuple[int, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, value in records:
            await producer.send_and_wait(topic, value, partition=partition)
    finally:
        await producer.stop()


@pytest.fixture
def topic(broker) -> str:
    """Three partitions holding 3, 2 and 0 records."""
    name = f"reading-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [name], 3)
    records = [(0, b"a0"), (1, b"b0"), (0, b"a1"), (0, b"a2"), (1, b"b1")]  # partition 2: none
    asyncio.run(produce(broker.bootstrap, name, records))
    return name
