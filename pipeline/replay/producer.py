"""Send replay records to Kafka with kafka-python, as fast as possible or paced.

Paced, records go out when ``(arrival - first arrival) / speed`` of wall time has passed, so a
stream replayed at ``speed=60`` plays an hour a minute and keeps its live interleaving of feeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from .jsonl import ReplayRecord

__all__ = ["send_records"]


def send_records(
    records: Iterable[ReplayRecord],
    bootstrap: str,
    topic_map: dict[str, str] | None = None,
    *,
    speed: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Send every record (topic renamed through ``topic_map``); returns how many were sent.

    ``speed`` paces by the records' arrival times (None: as fast as possible); ``stop`` ends
    the replay early.
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5 if speed else 20,
        batch_size=256 * 1024,
        acks=1,
        max_request_size=8 * 1024 * 1024,
    )
    sent = 0
    first_ts = began = None
    try:
        for record in records:
            if stop is not None and stop.is_set():
                break
            if speed and record.timestamp_ms is not None:
                if first_ts is None:
                    first_ts, began = record.timestamp_ms, time.monotonic()
                delay = began + (record.timestamp_ms - first_ts) / 1000.0 / speed - time.monotonic()
                if delay > 0.005:
                    producer.flush()  # what is due now is on the broker before we sleep
                    time.sleep(delay)
            topic = (topic_map or {}).get(record.topic, record.topic)
            producer.send(topic, key=record.key, value=record.value)
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent
