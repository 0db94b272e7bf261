"""The worker's producer: whole record batches per partition, one delivery future per batch.

Faust's ``app.producer.send`` costs about 25 µs per message (a future, a callback and a
sensor call each), which capped the worker at a few thousand alerts/s (benchmarks/README.md,
issue 6). Here records are appended to aiokafka's C record-batch builder and each full batch
is handed over with ``send_batch``: one future per batch of up to ``max_batch_bytes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import NamedTuple

import numpy as np
from aiokafka import AIOKafkaProducer

from ..settings import Settings
from .clients import Brokers, brokers
from .partitioner import key_partitions

__all__ = ["BatchProducer", "Delivery"]


class Delivery(NamedTuple):
    """A delivered record batch: its partition and the offset of its last record."""

    topic: str
    partition: int
    offset: int


class BatchProducer:
    """An aiokafka producer that sends pre-partitioned records as whole batches."""

    def __init__(
        self,
        bootstrap: Brokers | str,
        *,
        linger_ms: int,
        max_batch_bytes: int,
        max_request_bytes: int,
    ) -> None:
        self._brokers = brokers(bootstrap)  # with the settings' TLS and SASL options
        self._config = {
            "acks": "all",  # a record counts as delivered once the broker has it for good
            "linger_ms": linger_ms,
            "max_batch_size": max_batch_bytes,
            "max_request_size": max_request_bytes,
        }
        self._producer: AIOKafkaProducer | None = None  # made in start(): it needs a loop
        self._partitions: dict[str, list[int]] = {}

    @classmethod
    def from_settings(cls, bootstrap: str, settings: Settings) -> BatchProducer:
        return cls(
            Brokers.from_settings(settings, bootstrap),
            linger_ms=settings.producer_linger_ms,
            max_batch_bytes=settings.producer_batch_bytes,
            max_request_bytes=8 << 20,
        )

    async def start(self) -> None:
        self._producer = self._brokers.producer(**self._config)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def partitions(self, topic: str) -> list[int]:
        if topic not in self._partitions:
            self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return self._partitions[topic]

    async def send(
        self,
        topic: str,
        partitions: np.ndarray,
        keys: Sequence[bytes | None],
        values: Sequence[bytes],
        timestamps_ms: Sequence[int | None] | None = None,
    ) -> list[Awaitable[Delivery]]:
        """Send ``values[i]`` to ``partitions[i]``; each partition keeps the input order."""
        if len(values) == 0:
            return []
        order = np.argsort(partitions, kind="stable")
        bounds = np.flatnonzero(np.diff(partitions[order])) + 1
        deliveries = []
        for rows in np.split(order, bounds):
            partition = int(partitions[rows[0]])
            rows = rows.tolist()  # Python ints index lists several times faster
            deliveries += await self._send_partition(
                topic,
                partition,
                [keys[i] for i in rows],
                [values[i] for i in rows],
                None if timestamps_ms is None else [timestamps_ms[i] for i in rows],
            )
        return deliveries

    async def send_keyed(
        self, topic: str, keys: Sequence[bytes], values: Sequence[bytes]
    ) -> list[Awaitable[Delivery]]:
        """Partitioned by key like Kafka's default partitioner (murmur2), so every version of
        one key lands in one partition, in order."""
        available = await self.partitions(topic)
        return await self.send(topic, key_partitions(keys, available), keys, values)

    async def _send_partition(
        self, topic: str, partition: int, keys: list, values: list, timestamps: list | None
    ) -> list[Awaitable[Delivery]]:
        deliveries = []
        batch, count = self._producer.create_batch(), 0
        stamps = timestamps if timestamps is not None else [None] * len(values)
        for key, value, stamp in zip(keys, values, stamps, strict=True):
            while batch.append(key=key, value=value, timestamp=stamp) is None:  # full
                if count == 0:
                    raise ValueError(f"a record of {len(value)} bytes exceeds a whole batch")
                deliveries.append(await self._submit(batch, topic, partition, count))
                batch, count = self._producer.create_batch(), 0
            count += 1
        if count:
            deliveries.append(await self._submit(batch, topic, partition, count))
        return deliveries

    async def _submit(self, batch, topic: str, partition: int, count: int):
        future = await self._producer.send_batch(batch, topic, partition=partition)
        return asyncio.ensure_future(_delivered(future, count))


async def _delivered(future, count: int) -> Delivery:
    meta = await future
    return Delivery(meta.topic, meta.partition, meta.offset + count - 1)
