"""Where records go: a JSON Lines replay file (sent to Kafka by :func:`pipeline.kafka.send_chunks`).

Replay file format, one object per line, in arrival order::

    {"topic": "alerts.camera", "key": "CA0000000042", "ts": 1772370843250, "value": {...}}

``key`` is the Kafka key as text (null when sent without one), ``ts`` the record timestamp
(epoch ms). ``value`` is the wire object itself, written as the exact bytes that were sent (so
``msgspec.json.encode(json.loads(line)["value"])`` gives them back). A value that is not a JSON
object (malformed input) is written as a JSON string holding the raw text, with ``"raw": true``,
and a replayer must send that text's UTF-8 bytes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from typing import Any

import msgspec

from pipeline.sim.simulate import SimRecord

__all__ = ["write_replay_jsonl", "read_replay_jsonl"]

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
