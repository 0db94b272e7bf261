"""Send replay records to Kafka with kafka-python, batched and compressed by the client."""

from __future__ import annotations

from collections.abc import Iterable

from .jsonl import ReplayRecord

__all__ = ["send_records"]


def send_records(
    records: Iterable[ReplayRecord], bootstrap: str, topic_map: dict[str, str] | None = None
) -> int:
    """Send every record (topic renamed through ``topic_map``); returns how many were sent."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024, acks=1,
        max_request_size=8 * 1024 * 1024,
    )
    sent = 0
    try:
        for record in records:
            topic = (topic_map or {}).get(record.topic, record.topic)
            producer.send(topic, key=record.key, value=record.value)
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent
