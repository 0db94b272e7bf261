"""Backfill replay files (JSON Lines or Parquet) into a warehouse (what ``hotspot backfill`` and
the benchmark run) or into memory (``hotspot evaluate``, the demo's baseline fit, tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..correlate import Baseline
from ..correlate.baseline.store import baselines_from, newest_fit
from ..geo.admin_units import AdminRegistry
from ..replay.chunks import BadLine, RecordChunk
from ..replay.jsonl import read_jsonl_chunks
from ..replay.parquet import read_parquet_chunks
from ..settings import Settings
from ..warehouse import Warehouse
from .engine import Backfill, BackfillReport
from .sinks import INSERT_ROWS, MemorySink, WarehouseSink

__all__ = [
    "backfill_files",
    "backfill_to_memory",
    "read_chunks",
    "count_records",
    "FileBadLine",
    "PARQUET_SUFFIXES",
]

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class FileBadLine:
    path: Path
    line_number: int
    reason: str


def read_chunks(path: Path, bad: list[BadLine], chunk_records: int) -> Iterator[RecordChunk]:
    """Chunks of a replay file, by its suffix: Parquet, else JSON Lines."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        return read_parquet_chunks(path, bad, chunk_records)
    return read_jsonl_chunks(path, bad, chunk_records)


def count_records(path: Path) -> int:
    """Rows of a Parquet file, or lines of a JSON Lines file (the progress bar's total)."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            lines += block.count(b"\n")
    return lines


def backfill_files(
    settings: Settings,
    registry: AdminRegistry,
    warehouse: Warehouse,
    paths: Sequence[Path],
    *,
    clock: str = "arrival",
    flush: bool = True,
    chunk_records: int = 100_000,
    correlate: bool = True,
    insert_rows: int = INSERT_ROWS,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[BackfillReport, list[FileBadLine]]:
    """Backfill ``paths`` in order as one stream; broken lines are reported per file.

    ``progress(records, newest_event_ms)`` is called after every chunk. Alerts and dead
    letters are inserted ``insert_rows`` at a time (see :class:`~.sinks.WarehouseSink`).
    Correlators start from the warehouse's newest baseline, read once for every partition.
    """
    baselines = baselines_from(newest_fit(warehouse, settings) if correlate else None, settings)
    engine = Backfill(
        settings,
        registry,
        WarehouseSink(warehouse, registry, insert_rows),
        baselines,
        clock=clock,
        correlate=correlate,
    )
    return _run(engine, paths, chunk_records, flush, progress)


def backfill_to_memory(
    settings: Settings,
    registry: AdminRegistry,
    paths: Sequence[Path],
    baseline: Callable[[], Baseline],
    *,
    correlate: bool = True,
    keep_alerts: bool = False,
    chunk_records: int = 100_000,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[MemorySink, BackfillReport]:
    """:func:`backfill_files` (arrival clock, flushed) into a :class:`~.sinks.MemorySink`;
    ``baseline`` makes each partition correlator's baseline; ``progress`` as there."""
    sink = MemorySink(keep_alerts=keep_alerts)
    engine = Backfill(settings, registry, sink, baseline, correlate=correlate)
    report, _ = _run(engine, paths, chunk_records, True, progress)
    return sink, report


def _run(
    engine: Backfill,
    paths: Sequence[Path],
    chunk_records: int,
    flush: bool,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[BackfillReport, list[FileBadLine]]:
    broken: list[FileBadLine] = []
    try:
        for path in paths:
            bad: list[BadLine] = []
            before = len(engine.report.bad_lines)
            for chunk in read_chunks(Path(path), bad, chunk_records):
                engine.process(chunk)
                if progress is not None:
                    progress(len(chunk), engine.report.newest_event_ms)
            found = bad + engine.report.bad_lines[before:]
            broken += [
                FileBadLine(Path(path), b.line_number, b.reason)
                for b in sorted(found, key=lambda b: b.line_number)
            ]
        report = engine.finish(flush=flush)
    finally:
        engine.close()  # the correlator processes stop whatever happened
    report.bad_lines = [BadLine(b.line_number, b.reason) for b in broken]
    return report, broken
