"""Send chunks of replay records to Kafka, paced by their recorded time or as fast as possible.

The project's one sender of recorded streams: ``hotspot replay``, ``hotspot simulate
--to-kafka`` and the demo all go through :func:`send_chunks`. Every record keeps its recorded
time as the Kafka record timestamp. Paced at ``speed``, a
record goes out when ``(ts - first ts) / speed`` of wall time has passed since the first one
(``speed=60`` plays an hour a minute), so feeds keep their recorded interleaving; records
without a time go out at once. ``start_ms`` skips what was recorded before it.

A record without a key and without a recorded partition goes to its topic's partitions in
turn (round robin, in the order of the records), not where the producer's partitioner would
put it (kafka-python picks one at random): replaying the same file twice then fills the topics
the same way, so two runs over it can be compared alert by alert. Keyless records still spread
over every partition, so a feed's redelivered copy can land in another partition than its
first, as it does in production (issue 17).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..exceptions import BrokerError
from ..replay.chunks import NO_TIMESTAMP, RecordChunk
from .clients import Brokers, brokers

__all__ = ["Pacing", "send_chunks"]


@dataclass(frozen=True, slots=True)
class Pacing:
    """``speed``: event-time seconds per wall second (None: as fast as possible);
    ``start_ms``: skip records recorded before this (None: from the first)."""

    speed: float | None = None
    start_ms: int | None = None

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed!r}")


class _Clock:
    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self.first_ts: int | None = None
        self.began = 0.0

    def delay(self, ts: int) -> float:
        """Seconds to wait before sending a record recorded at ``ts``."""
        if self.speed is None or ts == NO_TIMESTAMP:
            return 0.0
        if self.first_ts is None:
            self.first_ts, self.began = ts, time.monotonic()
        return self.began + (ts - self.first_ts) / 1000.0 / self.speed - time.monotonic()


def send_chunks(
    chunks: Iterable[RecordChunk],
    bootstrap: Brokers | str,
    *,
    topic_map: dict[str, str] | None = None,
    pacing: Pacing = Pacing(),
    stop: threading.Event | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """Send every record (topic renamed through ``topic_map``); returns how many alerts were
    sent (records, unless a chunk says how many alerts each of its records carries).

    ``progress(sent, newest_ts)`` is called about every 0.2 s and at the end; ``stop`` ends
    the replay early.
    """
    from kafka.errors import KafkaError

    try:
        producer = brokers(bootstrap).sync_producer(
            linger_ms=5 if pacing.speed else 20,
            batch_size=256 * 1024,
            acks=1,
            # acks=1 rules idempotence out; saying so keeps kafka-python from warning about it
            # on every replay (the demo's only output for a while)
            enable_idempotence=False,
            max_request_size=8 * 1024 * 1024,
        )
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {bootstrap} ({exc}); check the bootstrap address and that "
            f"the broker runs"
        ) from exc
    clock, sent, reported, last = _Clock(pacing.speed), 0, 0, time.monotonic()
    turns: dict[str, tuple[int, int]] = {}  # topic -> (partition count, keyless records sent)
    newest: int | None = None
    try:
        for chunk in chunks:
            if pacing.start_ms is not None:
                chunk = chunk.take(
                    np.flatnonzero((chunk.ts == NO_TIMESTAMP) | (chunk.ts >= pacing.start_ms))
                )
            topics = [(topic_map or {}).get(t, t) for t in chunk.topic.tolist()]
            parts = chunk.partition.tolist() if chunk.partition is not None else None
            counts = [1] * len(chunk) if chunk.alerts is None else chunk.alerts.tolist()
            for i, ts in enumerate(chunk.ts.tolist()):  # one Kafka send per record, inherently
                if stop is not None and stop.is_set():
                    return sent
                wait = clock.delay(ts)
                if wait > 0.005:
                    producer.flush()  # what is due now is on the broker before we sleep
                    time.sleep(wait)
                key = chunk.key[i]
                partition = None if parts is None else parts[i]
                if partition is None and key is None:
                    partition = _next_turn(producer, topics[i], turns)
                producer.send(
                    topics[i],
                    value=bytes(chunk.values[i]),
                    key=key.encode() if isinstance(key, str) else key,
                    partition=partition,
                    timestamp_ms=None if ts == NO_TIMESTAMP else ts,
                )
                sent += counts[i]
                if ts != NO_TIMESTAMP:
                    newest = ts if newest is None else max(newest, ts)
                if progress is not None and time.monotonic() - last > 0.2:
                    progress(sent - reported, newest)
                    reported, last = sent, time.monotonic()
        producer.flush()
    except KafkaError as exc:
        raise BrokerError(
            f"sending to Kafka at {bootstrap} failed after {sent:,} alerts: {exc}; check that "
            f"the broker runs and the topics exist"
        ) from exc
    finally:
        producer.close()
        if progress is not None and sent > reported:
            progress(sent - reported, newest)
    return sent


def _next_turn(producer, topic: str, turns: dict[str, tuple[int, int]]) -> int:
    """The partition of ``topic``'s next record without a key (round robin)."""
    if topic not in turns:
        partitions = producer.partitions_for(topic)  # waits for the topic's metadata
        if not partitions:
            raise BrokerError(f"topic {topic} has no partitions; create it first")
        turns[topic] = (len(partitions), 0)
    count, sent = turns[topic]
    turns[topic] = (count, sent + 1)
    return sent % count
