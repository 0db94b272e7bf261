"""Replay files read in large columnar chunks: the fast path of backfill and replay.

A chunk holds many records at once (topic, key, value bytes, record timestamp, line number), so
callers work on whole arrays. JSON Lines are decoded a block at a time as one JSON array (one C
call for thousands of lines); only a block that holds a broken line is decoded line by line, so
each broken line is reported with its number and reason and every valid line is still read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa

from ..exceptions import ReplayFileError
from .jsonl import BadLine

__all__ = ["RecordChunk", "read_jsonl_chunks", "NO_TIMESTAMP"]

#: ``ts`` of a record that has none
NO_TIMESTAMP = np.iinfo(np.int64).min
_BLOCK_BYTES = 8 << 20
_LINES_PER_DECODE = 4096


@dataclass(frozen=True, slots=True)
class RecordChunk:
    """Records in file order. ``values`` are bytes-like (``bytes`` or ``msgspec.Raw``)."""

    topic: np.ndarray  # object (str)
    key: list  # str | None
    values: list
    ts: np.ndarray  # int64 epoch ms, NO_TIMESTAMP where absent
    line: np.ndarray  # int64, 1-based line (or row) number in the file
    partition: np.ndarray | None = None  # int32 target partitions; None: the producer chooses
    #: values already decoded, one row per record (typed Parquet, :mod:`.typed`), or None
    typed: pa.RecordBatch | None = None
    #: alerts each record carries (envelope records of a warehouse replay); None: one each
    alerts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def take(self, index: np.ndarray) -> RecordChunk:
        idx = np.asarray(index)
        return RecordChunk(
            self.topic[idx],
            [self.key[i] for i in idx.tolist()],
            [self.values[i] for i in idx.tolist()],
            self.ts[idx],
            self.line[idx],
            None if self.partition is None else self.partition[idx],
            None if self.typed is None else self.typed.take(pa.array(idx, pa.int64())),
            None if self.alerts is None else self.alerts[idx],
        )


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


def _concat(parts: list[RecordChunk]) -> RecordChunk:
    return RecordChunk(
        np.concatenate([p.topic for p in parts]),
        list(chain.from_iterable(p.key for p in parts)),
        list(chain.from_iterable(p.values for p in parts)),
        np.concatenate([p.ts for p in parts]),
        np.concatenate([p.line for p in parts]),
    )


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
                yield _concat(pending)
                pending, size = [], 0
            if not block:
                return
