"""Read topic partitions to their end: the one way the project reads "everything there is".

Used where a process needs a whole partition, or its tail, at one moment: a correlator's
checkpoints (:mod:`.checkpoints`), a normaliser's watermark marks after a restart
(:mod:`jobs.mark_reader`), the outputs the tests and the benchmarks compare; and, without
keeping what it reads, where a consumer group stands (:func:`ends`, for ``hotspot worker
--until-drained``).

Why this way, on Tansu:

* the end is the **high watermark of fetch responses**, not a ListOffsets answer: Tansu has
  been seen answering ListOffsets with an end below records it had already served;
* a **fresh consumer** outside any group for each read: a reused one keeps the high watermark
  of an earlier fetch, from before the newest records were written;
* reading stops only when every partition's position has reached its end **and** a fetch at
  that end brought nothing new (a high watermark learnt from an earlier fetch can lag);
* records are kept by offset: a fetch from the middle of a record batch may hand back earlier
  records too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ..exceptions import BrokerError
from .clients import Brokers, brokers

__all__ = ["ends", "read_partitions", "read_to_end", "read_topic"]


async def read_to_end(
    consumer: AIOKafkaConsumer,
    start: Mapping[TopicPartition, int | None],
    *,
    timeout_s: float = 60.0,
) -> dict[TopicPartition, list[ConsumerRecord]]:
    """Every record of each partition in ``start`` from its start offset (None: the
    beginning) to its end, in offset order. ``consumer`` must belong to no group; it is
    assigned these partitions. Raises :class:`~pipeline.exceptions.BrokerError` when a
    partition is not read to its end within ``timeout_s``."""
    tps = sorted(start)
    read: dict[TopicPartition, dict[int, ConsumerRecord]] = {tp: {} for tp in tps}
    if not tps:
        return {}
    consumer.assign(tps)
    for tp, offset in start.items():
        if offset is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, offset)
    deadline = time.monotonic() + timeout_s
    while True:
        fetched = await consumer.getmany(*tps, timeout_ms=200)
        for tp, records in fetched.items():
            read[tp].update((r.offset, r) for r in records)
        behind = []
        for tp in tps:
            end = consumer.highwater(tp)
            if end is None or await consumer.position(tp) < end:
                behind.append(tp)
        if not behind and not any(fetched.values()):
            return {tp: [rs[o] for o in sorted(rs)] for tp, rs in read.items()}
        if time.monotonic() > deadline:
            raise BrokerError(
                f"partitions {[tp.partition for tp in behind]} of {tps[0].topic} not read to "
                f"their end in {timeout_s:.0f} s; is the broker up?"
            )


async def read_partitions(
    bootstrap: Brokers | str,
    topic: str,
    start: Mapping[int, int | None] | None = None,
    *,
    timeout_s: float = 60.0,
) -> dict[int, list[ConsumerRecord]]:
    """:func:`read_to_end` with a fresh consumer: partition → its records from ``start``
    (partition → first offset, None: the beginning; None: every partition from the
    beginning). Raises :class:`~pipeline.exceptions.BrokerError` when ``topic`` does not
    exist."""
    consumer = brokers(bootstrap).consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.topics(), timeout_s)  # the cluster's metadata
        available = consumer.partitions_for_topic(topic)
        if not available:
            raise BrokerError(f"topic {topic} does not exist on {bootstrap}")
        if start is None:
            start = dict.fromkeys(available)
        read = await read_to_end(
            consumer,
            {TopicPartition(topic, p): offset for p, offset in start.items()},
            timeout_s=timeout_s,
        )
    finally:
        await consumer.stop()
    return {tp.partition: records for tp, records in read.items()}


def read_topic(
    bootstrap: Brokers | str, topic: str, *, timeout_s: float = 60.0
) -> list[ConsumerRecord]:
    """Every record of every partition of ``topic``, by partition and offset (for tests,
    benchmarks and tools; not from inside a running event loop)."""
    read = asyncio.run(read_partitions(bootstrap, topic, timeout_s=timeout_s))
    return [r for p in sorted(read) for r in read[p]]


async def ends(
    bootstrap: Brokers | str,
    topics: list[str],
    start: Mapping[tuple[str, int], int],
    *,
    known: Mapping[tuple[str, int], int] | None = None,
    timeout_s=60.0,
) -> dict[tuple[str, int], int]:
    """The end of every partition of ``topics``, as fetch responses from ``start`` (``(topic,
    partition)`` → offset, e.g. a group's committed offsets; 0 where absent) report it.

    ``known``: ends an earlier call returned. A partition is fetched from there where that is
    further on than ``start``, so that asking again, as a drain check does every fraction of a
    second, costs the broker only what was written since. Tansu answers a fetch with at least
    one whole record batch of each partition, whatever ``max_partition_fetch_bytes`` says, and
    lists every batch the partition holds to find it: fetched from a group's committed offsets,
    each check of a benchmark's drain made Tansu read and send 1.8 MB, and the checks took more
    of its CPU than the worker's own fetches (2026-12-07, ``benchmarks/end_to_end.py``)."""
    consumer = brokers(bootstrap).consumer(
        client_id="hotspot-ends",  # named in the broker's request logs (``broker_requests.py``)
        enable_auto_commit=False,
        max_partition_fetch_bytes=4096,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.topics(), timeout_s)  # the cluster's metadata
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return {}
        consumer.assign(tps)
        for tp in tps:
            key = (tp.topic, tp.partition)
            consumer.seek(tp, max(start.get(key, 0), (known or {}).get(key, 0)))
        deadline = time.monotonic() + timeout_s
        while any(consumer.highwater(tp) is None for tp in tps):
            if time.monotonic() > deadline:
                raise BrokerError(f"no fetch answer for some partitions of {topics} in time")
            await consumer.getmany(timeout_ms=200, max_records=1)
        return {(tp.topic, tp.partition): consumer.highwater(tp) for tp in tps}
    finally:
        await consumer.stop()
