"""Where records go: a JSON Lines replay file, or a Kafka cluster.

Replay file format, one object per line, in arrival order::

    {"topic": "alerts.camera", "key": "CA0000000042", "ts": 1772370843250, "value": {...}}

``key`` is the Kafka key as text (null when sent without one), ``ts`` the record timestamp
(epoch ms). ``value`` is the wire object itself, written as the exact bytes that were sent (so
``msgspec.json.encode(json.loads(line)["value"])`` gives them back). A value that is not a JSON
object (malformed input) is written as a JSON string holding the raw text, with ``"raw": true``,
and a replayer must send that text's UTF-8 bytes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from os import PathLike
from typing import Any

import msgspec

from pipeline.exceptions import BrokerError
from pipeline.sim.simulate import SimRecord

__all__ = ["write_replay_jsonl", "read_replay_jsonl", "send_to_kafka"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _is_object(value: bytes) -> bool:
    # Only an object can be embedded verbatim; scalars and arrays are as bad as garbage here.
    if not value.startswith(b"{"):
        return False
    try:
        return isinstance(_decode(value), dict)
    except msgspec.DecodeError:
        return False


def _line(record: SimRecord) -> bytes:
    head = (
        b'{"topic":'
        + _encode(record.topic)
        + b',"key":'
        + _encode(None if record.key is None else record.key.decode())
        + b',"ts":'
        + str(record.timestamp_ms).encode()
    )
    if _is_object(record.value):
        return head + b',"value":' + record.value + b"}\n"
    return head + b',"value":' + _encode(record.value.decode()) + b',"raw":true}\n'


def write_replay_jsonl(records: Iterable[SimRecord], path: str | PathLike[str]) -> int:
    """Write records as JSON Lines; returns how many were written."""
    n = 0
    with open(path, "wb") as fh:
        batch: list[bytes] = []
        for record in records:
            batch.append(_line(record))
            if len(batch) == 8192:  # bounded buffer: one write per batch, flat memory
                fh.write(b"".join(batch))
                n += len(batch)
                batch.clear()
        fh.write(b"".join(batch))
        n += len(batch)
    return n


def read_replay_jsonl(path: str | PathLike[str]) -> Iterable[SimRecord]:
    """Records of a replay file, with the original value bytes."""
    with open(path, "rb") as fh:
        for line in fh:
            obj: dict[str, Any] = _decode(line)
            value = obj["value"]
            raw = obj.get("raw", False)
            key = obj["key"]
            yield SimRecord(
                topic=obj["topic"],
                key=None if key is None else key.encode(),
                value=value.encode() if raw else _encode(value),
                timestamp_ms=int(obj["ts"]),
            )


def _default_producer(bootstrap: str, linger_ms: int, batch_size: int) -> Any:
    from kafka import KafkaProducer  # imported here: writing files must not need a Kafka client

    return KafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms, batch_size=batch_size)


def send_to_kafka(
    records: Iterable[SimRecord],
    bootstrap: str,
    *,
    linger_ms: int = 20,
    batch_size: int = 256 * 1024,
    topic_prefix: str = "",
    producer_factory: Callable[[str, int, int], Any] = _default_producer,
) -> int:
    """Produce every record (kafka-python ``KafkaProducer``), flush, and return the count.

    ``topic_prefix`` lets tests and parallel demos use their own topics on a shared broker.
    """
    from kafka.errors import KafkaError

    try:
        producer = producer_factory(bootstrap, linger_ms, batch_size)
    except KafkaError as exc:
        raise BrokerError(
            f"cannot connect to Kafka at {bootstrap!r}: {exc}; is the broker running?"
        ) from exc
    n = 0
    try:
        for r in records:
            producer.send(
                topic_prefix + r.topic, key=r.key, value=r.value, timestamp_ms=r.timestamp_ms
            )
            n += 1
        producer.flush()
    except KafkaError as exc:
        raise BrokerError(
            f"sending to Kafka at {bootstrap!r} failed after {n} records: {exc}"
        ) from exc
    finally:
        producer.close()
    return n
