"""Turn a normalised batch into Kafka records: envelopes keyed by tile, and dead letters.

Records go out through the worker's :class:`~jobs.producer.BatchProducer`, whole batches per
partition; a stage awaits every delivery before its poll is committed, so offsets are committed
only for input whose output is on the broker (at-least-once; everything downstream is
idempotent on ``alert_id``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence

import msgspec
import numpy as np

from pipeline.deadletter import DeadLetter, Reason
from pipeline.envelope import encode_envelopes
from pipeline.feeds.decode import Reject
from pipeline.normalize import NormalizedBatch
from pipeline.routing import TileRouting

from .producer import BatchProducer, Delivery
from .runtime import Runtime

__all__ = ["publish_normalized", "publish_deadletters"]

_DEADLETTER_ENCODER = msgspec.json.Encoder()


async def publish_normalized(
    producer: BatchProducer, runtime: Runtime,
    batches: Sequence[tuple[NormalizedBatch, np.ndarray]], routing: TileRouting,
) -> list[Awaitable[Delivery]]:
    """Publish the envelopes of several feeds' batches, each partition in arrival order.

    Each batch comes with the arrival rank of each of its input slots across all the batches:
    a correlator judges lateness in the order its partition delivers alerts, so the feeds'
    alerts are interleaved as they arrived, not one feed after another.
    """
    keys, values, partitions, stamps, ranks = [], [], [], [], []
    for batch, arrival in batches:
        if len(batch.alerts) == 0:
            continue
        routed = routing.route(batch.alerts.lat, batch.alerts.lon)
        tiles = _tile_names(routed.key)
        values += encode_envelopes(
            batch.alerts, batch.source_id, batch.extras, runtime.registry, routed.row, tiles,
            routed.halo,
        )
        keys += routed.key.tolist()
        partitions.append(routed.partition)
        stamps.append(batch.alerts.event_ms[routed.row])
        ranks.append(arrival[batch.index[routed.row]])
    if not values:
        return []
    order = np.argsort(np.concatenate(ranks), kind="stable")
    rows = order.tolist()  # Python ints index lists several times faster
    return await producer.send(
        runtime.settings.topics.normalized, np.concatenate(partitions)[order],
        [keys[i] for i in rows], [values[i] for i in rows],
        np.concatenate(stamps)[order].tolist(),
    )


def _tile_names(keys: np.ndarray) -> np.ndarray:
    """Tile keys (``S`` array) as ``str`` objects: a batch touches a few dozen tiles, so each
    distinct key is decoded once rather than once per row."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    return np.array([key.decode("ascii") for key in distinct.tolist()], dtype=object)[inverse]


async def publish_deadletters(
    producer: BatchProducer, runtime: Runtime, source: str, messages: Sequence,
    rejects: Sequence[Reject], alert_ids: dict[int, str] | None = None,
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
