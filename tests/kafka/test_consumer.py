"""The worker's group consumer (pipeline/kafka/consumer.py) on a real Tansu broker: two members
that stop together do not wedge their group, and a member alone in its group hands over."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from pipeline.kafka import ensure_topics, group_consumer, stop_group_consumer
from pipeline.settings import Settings

SESSION_S = 3.0


@pytest.fixture
def group(broker, tmp_path) -> tuple[Settings, str]:
    """The settings of a fresh consumer group, and a fresh two-partition topic for it."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [topic], 2)
    settings = Settings(
        data_dir=tmp_path,
        broker_url=f"kafka://{broker.bootstrap}",
        app_id=f"test-{uuid.uuid4().hex[:8]}",
        session_timeout_s=SESSION_S,
    )
    return settings, topic


async def _assigned(consumer, within_s: float) -> float | None:
    """Seconds until ``consumer`` holds partitions, or None if it did not within ``within_s``."""
    began = time.monotonic()
    while time.monotonic() - began < within_s:  # the consumer joins in its own task
        if consumer.assignment():
            return time.monotonic() - began
        await asyncio.sleep(0.05)
    return None


async def _member(settings: Settings, bootstrap: str, topic: str):
    consumer = group_consumer(bootstrap, settings)
    consumer.subscribe([topic])
    await consumer.start()
    return consumer


async def _assigned_member(settings: Settings, bootstrap: str, topic: str):
    """A member that holds partitions (the test fails if it gets none within 30 s)."""
    consumer = await _member(settings, bootstrap, topic)
    assert await _assigned(consumer, 30) is not None
    return consumer


def test_a_leader_that_stops_after_its_follower_leaves_no_wedged_group(broker, group):
    """The order that wedged a group on Tansu 0.6: the follower leaves, the group re-forms, then
    the leader leaves (module docstring). The next member must be assigned: after the leader's
    session at the latest, where before it waited for ever."""
    settings, topic = group

    async def run() -> float | None:
        first = await _assigned_member(settings, broker.bootstrap, topic)
        second = await _assigned_member(settings, broker.bootstrap, topic)
        while len(first.assignment()) + len(second.assignment()) != 2:  # both in one generation
            await asyncio.sleep(0.05)
        leader, follower = (first, second) if _led(first) else (second, first)
        assert _led(leader) == 2 and _led(follower) == 0
        await stop_group_consumer(follower)
        await stop_group_consumer(leader)
        # a member that cannot join never returns from start(): wait for it without cancelling
        joining = asyncio.ensure_future(_member(settings, broker.bootstrap, topic))
        began = time.monotonic()
        done, _ = await asyncio.wait([joining], timeout=SESSION_S + 20)
        if not done:
            return None
        await stop_group_consumer(joining.result())
        return time.monotonic() - began

    loop = asyncio.new_event_loop()  # not asyncio.run: it would wait on a stuck join for ever
    took = loop.run_until_complete(run())
    assert took is not None, "the group was left without a leader: nobody can join it"
    loop.close()


def test_a_member_alone_in_its_group_leads_no_one_and_hands_over(broker, group):
    """A leader of no one leaves as usual (it cannot leave a leader behind: its group is formed
    with it alone), and the worker that follows it on its own joins. This is every sequence of
    ``--until-drained`` workers in the tests."""
    settings, topic = group

    async def run() -> float | None:
        alone = await _assigned_member(settings, broker.bootstrap, topic)
        assert _led(alone) == 1
        await stop_group_consumer(alone)
        began = time.monotonic()
        after = await _member(settings, broker.bootstrap, topic)  # start() returns once joined
        took = time.monotonic() - began
        assert after.assignment()
        await stop_group_consumer(after)
        return took

    took = asyncio.run(run())
    assert took < 30, took


def _led(consumer) -> int:
    from pipeline.kafka.consumer import _assignors

    return _assignors[consumer].members_led
