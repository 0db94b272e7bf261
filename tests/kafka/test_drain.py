"""Whether a consumer group has drained its topics (pipeline/kafka/drain.py), on a real Tansu
broker: a group that commits part of a topic, then all of it, then falls behind again."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.kafka import GroupDrain

from .conftest import produce


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))  # assigned, not subscribed: commits without joining
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def test_drained_once_every_end_is_committed_twice_in_a_row_and_not_after_new_records(
    broker, topic
):
    group = f"drain-{uuid.uuid4().hex[:8]}"
    drain = GroupDrain(broker.bootstrap, group, [topic])

    def check(also=None) -> bool:
        return asyncio.run(drain.check(also))

    def commit(**offsets: int) -> None:
        asyncio.run(
            _commit(
                broker.bootstrap,
                group,
                {TopicPartition(topic, int(p[1:])): o for p, o in offsets.items()},
            )
        )

    assert not check(), "nothing committed"
    commit(p0=3, p1=1)
    assert not check() and not check(), "partition 1 is behind"
    commit(p1=2)
    assert not check(also=lambda committed: False), "the caller's own condition"
    assert not check(), "caught up once: a stage may still be about to publish"
    assert check()
    asyncio.run(produce(broker.bootstrap, topic, [(2, b"c0")]))
    assert not check(), "a record written since"
    commit(p2=1)
    assert not check() and check()
