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
from pipeline.geo.projection import LocalProjection
from pipeline.geo.tiles import halo_copies, tile_keys
from pipeline.normalize import NormalizedBatch

from .producer import BatchProducer, Delivery
from .runtime import Runtime

__all__ = ["tile_partition", "publish_normalized", "publish_deadletters", "city_projection"]

_DEADLETTER_ENCODER = msgspec.json.Encoder()


def city_projection(runtime: Runtime) -> LocalProjection:
    min_lat, min_lon, max_lat, max_lon = runtime.registry.bbox
    return LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)


def tile_partition(ix: np.ndarray, iy: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each tile: a fixed integer hash, the same in every worker and every run."""
    mixed = (ix.astype(np.int64) * 73_856_093) ^ (iy.astype(np.int64) * 19_349_663)
    return np.mod(mixed, partitions)


def _routed_rows(batch: NormalizedBatch, projection: LocalProjection, runtime: Runtime):
    """Rows to publish with tile key and partition; halo copies only where they add a partition."""
    settings = runtime.settings
    x, y = projection.to_xy(batch.alerts.lat, batch.alerts.lon)
    row, ix, iy, halo = halo_copies(x, y, settings.tile_m, settings.halo_m)
    partition = tile_partition(ix, iy, settings.partitions)
    # a halo copy is only useful in a partition the alert does not already reach
    _, first = np.unique(np.stack([row, partition]), axis=1, return_index=True)
    keep = np.zeros(len(row), dtype=bool)
    keep[first] = True
    order = np.flatnonzero(keep)
    return row[order], tile_keys(ix[order], iy[order]), partition[order], halo[order]


async def publish_normalized(
    producer: BatchProducer, runtime: Runtime,
    batches: Sequence[tuple[NormalizedBatch, np.ndarray]], projection: LocalProjection,
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
        rows, tile_keys_, parts, halo = _routed_rows(batch, projection, runtime)
        tiles = np.char.decode(tile_keys_, "ascii").astype(object)
        values += encode_envelopes(
            batch.alerts, batch.source_id, batch.extras, runtime.registry, rows, tiles, halo
        )
        keys += tile_keys_.tolist()
        partitions.append(parts)
        stamps.append(batch.alerts.event_ms[rows])
        ranks.append(arrival[batch.index[rows]])
    if not values:
        return []
    order = np.argsort(np.concatenate(ranks), kind="stable")
    return await producer.send(
        runtime.settings.topics.normalized, np.concatenate(partitions)[order],
        [keys[i] for i in order], [values[i] for i in order],
        np.concatenate(stamps)[order].tolist(),
    )


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
