"""The worker's Kafka consumer: one aiokafka consumer in the worker group, configured from the
settings, with offsets committed by hand, and how it leaves the group when it stops.

The consume → handle → commit loop that drives it stays with the worker (``jobs/consumer.py``);
here is only what it asks of Kafka.

**Why the group's leader does not always leave.** Tansu 0.6's group coordinator keeps a member
that sends LeaveGroup as the group's leader when the group is re-forming at that moment (its
``Inner<Forming>::leave`` removes the member but not ``state.leader``; the ``Formed`` state
clears it). Every member that joins afterwards is told to wait for that departed leader's
assignment, which never comes: the group is wedged for as long as the broker runs (seen as
"Joined group (generation N)" every few seconds, never "Elected group leader"). It happens
whenever the leader leaves just after another member, as two workers that stop together do.
A member that goes without a word is evicted after its session instead, and eviction clears
the leader in both states. So a worker that led other members at its last join stops without
LeaveGroup: its partitions move after ``session_timeout_s``, not at once. A follower (it is
never the leader left behind) and a leader alone in its group leave as usual, so a worker that
follows another on its own still takes over at once. A leader alone that stops just as a
newcomer joins still leaves and could wedge the group: that window is left open. On Apache
Kafka the only effect of all this is the delay.
"""

from __future__ import annotations

import weakref

from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from ..settings import Settings
from .clients import Brokers

__all__ = ["LeaderAwareAssignor", "group_consumer", "stop_group_consumer"]


class LeaderAwareAssignor(RoundRobinPartitionAssignor):
    """Round robin (the same protocol as a plain aiokafka member), remembering how many
    members this one assigned partitions to at its last join: only the leader assigns, so
    ``members_led`` is 0 for a follower."""

    def __init__(self) -> None:
        self._assigning = 0
        self.members_led = 0

    def assign(self, cluster, members):  # an instance's, not the class's: state per consumer
        self._assigning = len(members)
        return super().assign(cluster, members)

    def on_assignment(self, assignment) -> None:  # every member, after each join
        self.members_led, self._assigning = self._assigning, 0


_assignors: weakref.WeakKeyDictionary[AIOKafkaConsumer, LeaderAwareAssignor] = (
    weakref.WeakKeyDictionary()
)


def group_consumer(bootstrap: str, settings: Settings) -> AIOKafkaConsumer:
    """An unstarted consumer in the ``settings.app_id`` group. Offsets are committed only by
    the caller (after its batch is written), and a new group starts at the earliest record.
    Stop it with :func:`stop_group_consumer`."""
    assignor = LeaderAwareAssignor()
    consumer = Brokers.from_settings(settings, bootstrap).consumer(
        group_id=settings.app_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Large fetches: a poll should bring whole batches, not a few hundred records.
        max_partition_fetch_bytes=settings.fetch_max_bytes,
        fetch_max_bytes=settings.fetch_max_bytes * 4,
        fetch_max_wait_ms=int(settings.batch_within_s * 1000),
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(min(3.0, settings.session_timeout_s / 3) * 1000),
        rebalance_timeout_ms=int(settings.rebalance_timeout_s * 1000),
        partition_assignment_strategy=(assignor,),
    )
    _assignors[consumer] = assignor
    return consumer


async def stop_group_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``; it leaves its group unless it led other members (module docstring)."""
    assignor = _assignors.get(consumer)
    coordinator = consumer._coordinator  # aiokafka's GroupCoordinator (pinned aiokafka)
    if assignor is not None and assignor.members_led > 1 and coordinator is not None:

        async def go_quietly() -> None:  # what its leave does, less the LeaveGroup request
            coordinator.reset_generation()

        coordinator._maybe_leave_group = go_quietly
    await consumer.stop()
