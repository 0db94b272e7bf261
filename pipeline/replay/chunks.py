"""Records in large columnar chunks: what every replay reader yields and every sender takes.

A chunk holds many records at once (topic, key, value bytes, record timestamp, line number), so
callers work on whole arrays: backfill, replay to Kafka and conversion to Parquet. The readers
are :mod:`.jsonl`, :mod:`.parquet` and :mod:`.warehouse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import pyarrow as pa

__all__ = ["BadLine", "NO_TIMESTAMP", "RecordChunk", "concat_chunks"]

#: ``ts`` of a record that has none
NO_TIMESTAMP = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line (or row) of a replay file that holds no record, and why."""

    line_number: int
    reason: str


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


def concat_chunks(parts: list[RecordChunk]) -> RecordChunk:
    """The records of ``parts`` end to end, as one chunk (file columns only)."""
    return RecordChunk(
        np.concatenate([p.topic for p in parts]),
        list(chain.from_iterable(p.key for p in parts)),
        list(chain.from_iterable(p.values for p in parts)),
        np.concatenate([p.ts for p in parts]),
        np.concatenate([p.line for p in parts]),
    )
