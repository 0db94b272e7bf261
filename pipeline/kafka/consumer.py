"""The worker's Kafka consumer: one aiokafka consumer in the worker group, configured from the
settings, with offsets committed by hand.

The consume → handle → commit loop that drives it stays with the worker (``jobs/consumer.py``);
here is only what it asks of Kafka.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from ..settings import Settings
from .clients import Brokers

__all__ = ["group_consumer"]


def group_consumer(bootstrap: str, settings: Settings) -> AIOKafkaConsumer:
    """An unstarted consumer in the ``settings.app_id`` group. Offsets are committed only by
    the caller (after its batch is written), and a new group starts at the earliest record."""
    return Brokers.from_settings(settings, bootstrap).consumer(
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
    )
