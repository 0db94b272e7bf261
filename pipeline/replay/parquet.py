"""Parquet replay files: the columns of a JSON Lines replay (``topic``, ``key``, ``value``,
optional ``ts`` epoch ms), read with pyarrow a row group at a time into :class:`RecordChunk` s.

``value`` holds the exact bytes that were sent (binary or UTF-8 string). A row without a topic
or a value is reported by its row number (1-based) and skipped; every other row is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..exceptions import ReplayFileError
from .chunks import NO_TIMESTAMP, BadLine, RecordChunk
from .jsonl import read_jsonl_chunks
from .typed import LAYOUT_KEY, LAYOUT_VERSION, PREFIX, typed_columns

__all__ = ["read_parquet_chunks", "jsonl_to_parquet"]

_REQUIRED = ("topic", "value")


def _open(path: Path) -> pq.ParquetFile:
    if not Path(path).exists():
        raise ReplayFileError(f"replay file {path} does not exist; check the path")
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReplayFileError(f"{path} is not a Parquet file ({exc})") from exc
    missing = [c for c in _REQUIRED if c not in file.schema_arrow.names]
    if missing:
        raise ReplayFileError(
            f"{path} lacks the column(s) {missing}; a Parquet replay needs topic, key, value "
            "(and optionally ts)"
        )
    return file


def read_parquet_chunks(
    path: Path, bad_lines: list[BadLine], chunk_records: int = 100_000
) -> Iterator[RecordChunk]:
    """Chunks of at most ``chunk_records`` rows; rows without topic or value go to
    ``bad_lines`` (numbered from 1)."""
    file = _open(path)
    names = [c for c in ("topic", "key", "value", "ts") if c in file.schema_arrow.names]
    metadata = file.schema_arrow.metadata or {}
    if metadata.get(LAYOUT_KEY) == LAYOUT_VERSION:  # written with typed=True: read those too
        names += [c for c in file.schema_arrow.names if c.startswith(PREFIX)]
    first = 1
    for batch in file.iter_batches(batch_size=chunk_records, columns=names):
        n = batch.num_rows
        numbers = np.arange(first, first + n, dtype=np.int64)
        first += n
        valid = pc.and_(pc.is_valid(batch.column("topic")), pc.is_valid(batch.column("value")))
        ok = valid.to_numpy(zero_copy_only=False)
        for number in numbers[~ok].tolist():  # loop per broken row only
            bad_lines.append(BadLine(number, "row has no topic or no value"))
        if not ok.all():
            batch = batch.filter(valid)
            numbers = numbers[ok]
        yield _chunk(batch, numbers)


def _chunk(batch: pa.RecordBatch, numbers: np.ndarray) -> RecordChunk:
    n = batch.num_rows
    value = batch.column("value")
    if pa.types.is_string(value.type) or pa.types.is_large_string(value.type):
        value = value.cast(
            pa.large_binary() if pa.types.is_large_string(value.type) else pa.binary()
        )
    names = batch.schema.names
    key = batch.column("key").to_pylist() if "key" in names else [None] * n
    if "ts" in names:
        ts = batch.column("ts").cast(pa.int64()).fill_null(NO_TIMESTAMP).to_numpy()
    else:
        ts = np.full(n, NO_TIMESTAMP, np.int64)
    topic = batch.column("topic").cast(pa.string()).to_numpy(zero_copy_only=False)
    typed = [i for i, name in enumerate(names) if name.startswith(PREFIX)]
    return RecordChunk(
        topic.astype(object),
        key,
        value.to_pylist(),
        np.asarray(ts, np.int64),
        numbers,
        typed=batch.select(typed) if typed else None,
    )


def jsonl_to_parquet(
    source: Path, target: Path, bad_lines: list[BadLine], *, typed: bool = False
) -> int:
    """Write a JSON Lines replay as Parquet with the same columns; returns rows written.

    ``typed`` adds each value decoded, as typed columns a backfill reads instead of decoding
    the JSON again (:mod:`.typed`); the four columns stay as they are.
    """
    writer = None
    rows = 0
    schema = pa.schema(
        [("topic", pa.string()), ("key", pa.string()), ("value", pa.binary()), ("ts", pa.int64())]
    )
    try:
        for chunk in read_jsonl_chunks(source, bad_lines):
            ts = pa.array(chunk.ts, mask=chunk.ts == NO_TIMESTAMP)
            table = pa.table(
                [
                    pa.array(chunk.topic.tolist(), pa.string()),
                    pa.array(chunk.key, pa.string()),
                    pa.array([bytes(v) for v in chunk.values], pa.binary()),
                    ts,
                ],
                schema=schema,
            )
            if typed:
                for name, column in typed_columns(chunk.topic, chunk.values).items():
                    table = table.append_column(name, column)
                table = table.replace_schema_metadata({LAYOUT_KEY: LAYOUT_VERSION})
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=100_000)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows
