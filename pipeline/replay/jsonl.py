"""JSON Lines replay files: ``{"topic": ..., "key": optional, "value": <wire object>}`` a line.

A value that was not valid JSON when it was recorded is kept as a string with ``"raw": true``,
so replaying it sends the same broken bytes again. Broken lines are reported with their line
number and reason and skipped; every valid line is still read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from ..exceptions import ReplayFileError

__all__ = ["ReplayRecord", "BadLine", "read_jsonl"]


class _Line(msgspec.Struct):
    topic: str
    value: msgspec.Raw
    key: str | None = None
    raw: bool = False
    ts: int | None = None  # arrival time, epoch ms (the Kafka record timestamp)


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int | None = None  # when it arrived (recorded); paces a replay


@dataclass(frozen=True, slots=True)
class BadLine:
    line_number: int
    reason: str


def read_jsonl(path: Path, bad_lines: list[BadLine] | None = None) -> Iterator[ReplayRecord]:
    """Records of a replay file, in file order; broken lines go to ``bad_lines``."""
    if not path.exists():
        raise ReplayFileError(f"replay file {path} does not exist")
    decoder = msgspec.json.Decoder(_Line)
    text_decoder = msgspec.json.Decoder(str)
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                parsed = decoder.decode(line)
                value = (
                    text_decoder.decode(parsed.value).encode()
                    if parsed.raw
                    else bytes(parsed.value)
                )
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # bad UTF-8 is a bad line
                if bad_lines is not None:
                    bad_lines.append(BadLine(number, str(exc)))
                continue
            key = parsed.key.encode() if parsed.key is not None else None
            yield ReplayRecord(parsed.topic, key, value, parsed.ts)
