"""Turn a normalised poll into Kafka records: envelope records per partition, and dead letters.

Records go out through the worker's :class:`~pipeline.kafka.BatchProducer`, whole batches per
partition; a stage awaits every delivery before its poll is committed, so offsets are committed
only for input whose output is on the broker (at-least-once; everything downstream is
idempotent on ``alert_id``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence

import msgspec
import numpy as np
import pyarrow as pa

from pipeline.deadletter import DeadLetter, Reason
from pipeline.envelope import encode_envelopes
from pipeline.feeds.decode import Reject
from pipeline.kafka import BatchProducer, Delivery
from pipeline.marks import MARK_KEY, Marks, Origins, encode_marks
from pipeline.routing import TileRouting

from .runtime import Runtime

__all__ = ["publish_normalized", "publish_marks", "publish_deadletters"]

_DEADLETTER_ENCODER = msgspec.json.Encoder()


async def publish_normalized(
    producer: BatchProducer,
    runtime: Runtime,
    alerts: pa.Table,
    arrival: np.ndarray,
    routing: TileRouting,
    origins: Origins | None = None,
    marks: Marks | None = None,
) -> list[Awaitable[Delivery]]:
    """Publish ``alerts`` (an :func:`~pipeline.envelope.envelope_table`) to their tiles'
    partitions, halo copies included, each partition's rows in arrival order, then ``marks``
    to every partition (:mod:`jobs.watermarks`).

    ``arrival`` ranks each row across the feeds of the poll: the feeds' alerts are interleaved
    as they arrived, not one feed after another. ``origins``: where each row came from
    (:mod:`pipeline.marks`). The marks go in the same send, after the envelopes: the producer
    keeps each partition's order, so a correlator reads them after the alerts they cover.
    """
    if not alerts.num_rows:
        return []
    routed = routing.route(alerts.column("lat").to_numpy(), alerts.column("lon").to_numpy())
    order = np.lexsort((arrival[routed.row], routed.partition))
    bounds = np.flatnonzero(np.diff(routed.partition[order])) + 1
    by_partition = np.split(order, bounds)
    # Arrow takes, compresses and writes without the interpreter lock: off the event loop's
    # thread, the other stages' Python runs meanwhile.
    encoded = await asyncio.gather(
        *(
            asyncio.to_thread(
                encode_envelopes,
                alerts,
                routed.row[rows],
                routed.key[rows],
                routed.halo[rows],
                origins=None if origins is None else origins.take(routed.row[rows]),
            )
            for rows in by_partition
        )
    )
    partitions, keys, values = [], [], []
    for rows, records in zip(by_partition, encoded, strict=True):  # loop per partition
        partitions += [int(routed.partition[rows[0]])] * len(records)
        values += records
    keys = [None] * len(values)
    if marks is not None and len(marks):
        marked = _marks_everywhere(marks, routing.partitions)
        partitions += marked[0]
        keys += marked[1]
        values += marked[2]
    return await producer.send(
        runtime.settings.topics.normalized, np.array(partitions), keys, values
    )


def _marks_everywhere(marks: Marks, count: int) -> tuple[list[int], list[bytes], list[bytes]]:
    """Partitions, keys and values of ``marks`` sent to each of ``count`` partitions."""
    values = encode_marks(marks)
    return (
        [p for p in range(count) for _ in values],
        [MARK_KEY] * (count * len(values)),
        values * count,
    )


async def publish_marks(
    producer: BatchProducer, runtime: Runtime, marks: Marks
) -> list[Awaitable[Delivery]]:
    """Publish ``marks`` to every partition of ``alerts.normalized`` (the idle timer's)."""
    if not len(marks):
        return []
    partitions, keys, values = _marks_everywhere(marks, runtime.settings.partitions)
    return await producer.send(
        runtime.settings.topics.normalized, np.array(partitions), keys, values
    )


async def publish_deadletters(
    producer: BatchProducer,
    runtime: Runtime,
    source: str,
    messages: Sequence,
    rejects: Sequence[Reject],
    alert_ids: dict[int, str] | None = None,
) -> list[Awaitable[Delivery]]:
    """``messages`` are the consumer records of the batch; ``rejects`` index into them.

    A dead letter goes to the partition of its input's partition (modulo the partition count),
    so each input partition's dead letters stay in order."""
    if not rejects:
        return []
    now_ms = int(time.time() * 1000)
    values, partitions = [], []
    for reject in rejects:  # per rejected message only: bad input is a small share
        message = messages[reject.index]
        record = DeadLetter(
            reason=Reason(reject.reason),
            detail=reject.detail,
            source=source,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            received_ms=now_ms,
            payload_sealed=runtime.sealer.seal(message.value or b""),
            key_sealed=runtime.sealer.seal(message.key) if message.key else None,
            alert_id=(alert_ids or {}).get(reject.index),
        )
        runtime.metrics.deadlettered.labels(source, record.reason.value).inc()
        values.append(_DEADLETTER_ENCODER.encode(record))
        partitions.append(message.partition)
    topic = runtime.settings.topics.deadletter
    count = len(await producer.partitions(topic))
    return await producer.send(topic, np.array(partitions) % count, [None] * len(values), values)
