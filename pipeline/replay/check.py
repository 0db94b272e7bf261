"""Is this a replay file at all? A cheap look before a command commits to reading one.

The readers report each broken line and go on, which is right for a good file with a few bad
lines, and wrong for a CSV or an empty file: ``backfill`` used to print thousands of "JSON is
malformed" lines, read nothing and exit 0. :func:`check_replay_file` reads the first lines
(or a Parquet file's footer) and refuses a file that holds no record.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from ..exceptions import ReplayFileError
from .jsonl import _ONE

__all__ = ["check_replay_file", "LINES_LOOKED_AT"]

#: a JSON Lines file whose first this many non-blank lines all fail is not JSON Lines
LINES_LOOKED_AT = 100
_LONGEST_LINE = 16 << 20  # bytes read of one line while looking

_SHAPE = '{"topic": "alerts.camera", "value": {...}, "ts": 1764000000000} a line'


def check_replay_file(path: Path, parquet: bool) -> None:
    """Raise :class:`ReplayFileError` unless ``path`` holds at least one record: it exists, is
    a file, is not empty, and (JSON Lines) one of its first :data:`LINES_LOOKED_AT` non-blank
    lines is a replay record."""
    path = Path(path)
    if not path.exists():
        raise ReplayFileError(f"replay file {path} does not exist; check the path")
    if not path.is_file():
        raise ReplayFileError(f"{path} is not a file; name replay files (JSON Lines or Parquet)")
    if parquet:
        from .parquet import _open

        if _open(path).metadata.num_rows == 0:
            raise ReplayFileError(f"{path} holds no records; nothing to read")
        return
    first_error, seen = None, 0
    with open(path, "rb") as fh:
        while seen < LINES_LOOKED_AT and (line := fh.readline(_LONGEST_LINE)):
            if not line.strip():
                continue
            seen += 1
            try:
                _ONE.decode(line)
                return
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                first_error = first_error or str(exc)
    if seen == 0:
        raise ReplayFileError(f"{path} holds no records (it is empty); nothing to read")
    raise ReplayFileError(
        f"{path} is not a JSON Lines replay file: none of its first {seen} lines is a record "
        f"(the first: {first_error}). A replay file has {_SHAPE}, or is Parquet (.parquet) "
        "with topic, key, value and ts columns"
    )
