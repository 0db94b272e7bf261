"""JSON Lines replay files: ``{"topic": ..., "key": optional, "value": <wire object>, "ts":
optional}`` a line, read in large columnar chunks (the fast path of backfill and replay).

A value that was not valid JSON when it was recorded is kept as a string with ``"raw": true``,
so replaying it sends the same broken bytes again. Lines are decoded a block at a time as one
JSON array (one C call for thousands of lines); only a block that holds a broken line is decoded
line by line, so each broken line is reported with its number and reason and every valid line
is still read. :func:`read_jsonl` is the same reader, a record at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import msgspec
import numpy as np

from ..exceptions import ReplayFileError
from .chunks import NO_TIMESTAMP, BadLine, RecordChunk, concat_chunks

__all__ = ["ReplayRecord", "read_jsonl", "read_jsonl_chunks"]

_BLOCK_BYTES = 8 << 20
_LINES_PER_DECODE = 4096


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """One record of a replay file."""

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int | None = None  # when it arrived (recorded); paces a replay


class _Line(msgspec.Struct, gc=False):
    topic: str
    value: msgspec.Raw
    key: str | None = None
    raw: bool = False
    ts: int | None = None


_value, _raw, _ts, _topic, _key = map(attrgetter, ("value", "raw", "ts", "topic", "key"))
_ONE = msgspec.json.Decoder(_Line)
_MANY = msgspec.json.Decoder(list[_Line])
_TEXT = msgspec.json.Decoder(str)


def _chunk(parsed: list[_Line], numbers: np.ndarray) -> RecordChunk:
    n = len(parsed)
    values = list(map(_value, parsed))
    raw = np.flatnonzero(np.fromiter(map(_raw, parsed), bool, n))
    for i in raw.tolist():  # loop per raw (broken-on-purpose) value only: rare
        values[i] = _TEXT.decode(values[i]).encode()
    stamps = list(map(_ts, parsed))
    if None in stamps:  # records without an arrival time: rare
        stamps = [NO_TIMESTAMP if t is None else t for t in stamps]
    return RecordChunk(
        np.fromiter(map(_topic, parsed), object, n),
        list(map(_key, parsed)),
        values,
        np.array(stamps, dtype=np.int64).reshape(n),
        numbers,
    )


def _decode_lines(lines: list[bytes], first: int, bad: list[BadLine]) -> RecordChunk:
    try:
        parsed = _MANY.decode(b"[" + b",".join(lines) + b"]")
        if len(parsed) == len(lines):  # else a blank line hid in the join
            return _chunk(parsed, np.arange(first, first + len(lines), dtype=np.int64))
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass
    kept, numbers = [], []
    for offset, line in enumerate(lines):  # slow path: only for a block with a broken line
        if not line.strip():
            continue
        try:
            parsed = _ONE.decode(line)
            if parsed.raw:
                _TEXT.decode(parsed.value)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            bad.append(BadLine(first + offset, str(exc)))
            continue
        kept.append(parsed)
        numbers.append(first + offset)
    return _chunk(kept, np.array(numbers, dtype=np.int64))


def read_jsonl_chunks(
    path: Path, bad_lines: list[BadLine], chunk_records: int = 100_000
) -> Iterator[RecordChunk]:
    """Chunks of about ``chunk_records`` records; broken lines are appended to ``bad_lines``."""
    if not Path(path).exists():
        raise ReplayFileError(f"replay file {path} does not exist; check the path")
    pending: list[RecordChunk] = []
    size = 0
    number = 1  # line number of the next line
    with open(path, "rb") as fh:
        rest = b""
        while True:
            block = fh.read(_BLOCK_BYTES)
            data = rest + block
            lines = data.split(b"\n")
            rest = lines.pop() if block else b""
            for start in range(0, len(lines), _LINES_PER_DECODE):
                part = lines[start : start + _LINES_PER_DECODE]
                chunk = _decode_lines(part, number + start, bad_lines)
                pending.append(chunk)
                size += len(chunk)
            number += len(lines)
            if size >= chunk_records or (not block and pending):
                yield concat_chunks(pending)
                pending, size = [], 0
            if not block:
                return


def read_jsonl(path: Path, bad_lines: list[BadLine] | None = None) -> Iterator[ReplayRecord]:
    """Records of a replay file one by one, in file order; broken lines go to ``bad_lines``."""
    bad: list[BadLine] = [] if bad_lines is None else bad_lines
    for chunk in read_jsonl_chunks(path, bad):
        stamps = chunk.ts.tolist()
        for topic, key, value, ts in zip(chunk.topic, chunk.key, chunk.values, stamps, strict=True):
            yield ReplayRecord(
                topic,
                None if key is None else key.encode(),
                bytes(value),
                None if ts == NO_TIMESTAMP else ts,
            )
