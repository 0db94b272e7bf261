"""A partition's checkpointed state: its correlator's snapshot and its notice book, together.

One checkpoint for both, so they always cover the same input offset: restored together, the
partition re-reads its log from that offset and neither runs ahead of the other. The layout is
a magic, the correlator snapshot's length, the snapshot, then the book. A correlator snapshot
alone (a checkpoint written before notices existed: a zip archive, ``PK``...) restores with an
empty book.
"""

from __future__ import annotations

import struct

__all__ = ["join_state", "split_state"]

_MAGIC = b"HSNB1"  # hotspot state + notice book, layout 1
_LENGTH = struct.Struct(">Q")


def join_state(correlator: bytes, notices: bytes) -> bytes:
    """One state value of a correlator snapshot and a notice book snapshot."""
    return b"".join((_MAGIC, _LENGTH.pack(len(correlator)), correlator, notices))


def split_state(state: bytes) -> tuple[bytes, bytes | None]:
    """``(correlator snapshot, notice book or None)`` of a checkpoint's state."""
    if not state.startswith(_MAGIC):
        return state, None
    head = len(_MAGIC) + _LENGTH.size
    if len(state) < head:
        raise ValueError("a checkpoint state cut short in its header")
    (size,) = _LENGTH.unpack_from(state, len(_MAGIC))
    if len(state) < head + size:
        raise ValueError("a checkpoint state cut short in its correlator snapshot")
    return state[head : head + size], state[head + size :]
