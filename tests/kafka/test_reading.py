"""Reading partitions to their end (pipeline/kafka/reading.py) on a real Tansu broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pipeline.exceptions import BrokerError
from pipeline.kafka import ends, read_partitions, read_topic

from .conftest import produce


def test_every_record_of_every_partition_in_partition_and_offset_order(broker, topic):
    records = read_topic(broker.bootstrap, topic)
    assert [(r.partition, r.offset, r.value) for r in records] == [
        (0, 0, b"a0"),
        (0, 1, b"a1"),
        (0, 2, b"a2"),
        (1, 0, b"b0"),
        (1, 1, b"b1"),
    ]


def test_a_tail_from_an_offset_and_an_empty_partition(broker, topic):
    read = asyncio.run(read_partitions(broker.bootstrap, topic, {0: 2, 2: None}))
    assert [r.value for r in read[0]] == [b"a2"]
    assert read[2] == []


def test_records_written_after_a_first_read_are_read_by_the_next(broker, topic):
    assert len(read_topic(broker.bootstrap, topic)) == 5
    asyncio.run(produce(broker.bootstrap, topic, [(2, b"c0")]))
    assert [r.value for r in read_topic(broker.bootstrap, topic)][-1] == b"c0"


def test_a_topic_that_does_not_exist_is_named(broker):
    with pytest.raises(BrokerError, match="does not exist"):
        read_topic(broker.bootstrap, f"missing-{uuid.uuid4().hex[:8]}", timeout_s=10)


def test_ends_from_known_ends_see_records_written_since(broker, topic):
    """A drain check asks again from the ends it learnt: the answer is the same as from the
    start, and it moves when records are written after the first answer."""
    first = asyncio.run(ends(broker.bootstrap, [topic], {}))
    assert first == {(topic, 0): 3, (topic, 1): 2, (topic, 2): 0}
    assert asyncio.run(ends(broker.bootstrap, [topic], {}, known=first)) == first
    asyncio.run(produce(broker.bootstrap, topic, [(1, b"b2"), (2, b"c0")]))
    again = asyncio.run(ends(broker.bootstrap, [topic], {(topic, 0): 1}, known=first))
    assert again == {(topic, 0): 3, (topic, 1): 3, (topic, 2): 1}
