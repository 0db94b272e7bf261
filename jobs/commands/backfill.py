"""``hotspot backfill FILE...``: the pipeline in process over replay files, into the warehouse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.exceptions import ConfigurationError
from pipeline.settings import load_settings

from .console import stdout_console
from .options import SettingsFile, check_replay_files
from .progress import RecordProgress, format_ms

__all__ = ["backfill"]


def backfill(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Replay files: JSON Lines, or Parquet (.parquet) with topic, key, value, ts."
        ),
    ],
    settings_file: SettingsFile = None,
    clock: Annotated[
        str,
        typer.Option(
            help="What future/stale event times are judged against: 'arrival' (the recorded "
            "arrival time, as the live worker did then) or 'wall' (now, as a live worker "
            "would now)."
        ),
    ] = "arrival",
    flush: Annotated[
        bool,
        typer.Option(
            help="At the end, close every window so all flags and incidents are final; "
            "--no-flush stops where a live worker that read the same input would stand."
        ),
    ] = True,
    correlate: Annotated[
        bool,
        typer.Option(
            help="--no-correlate stores alerts and dead letters only (a fast load of history)."
        ),
    ] = True,
    chunk: Annotated[int, typer.Option(help="Records per chunk.", min=1)] = 100_000,
    processes: Annotated[
        int | None,
        typer.Option(
            help="Processes that correlate the partitions (default: the setting "
            "backfill_processes, 1: in this process; 0 there: one per CPU this process may "
            "use). Worth it on free cores only. The rows do not depend on it.",
            min=1,
        ),
    ] = None,
    ignore_retention: Annotated[
        bool,
        typer.Option(
            "--ignore-retention",
            help="Load records older than the warehouse keeps (see the retention settings); "
            "they are stored and then dropped. Without it such a backfill is refused.",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Normalise, correlate and store replay files in this process, as a live run would.

    What the warehouse held in the files' range (alerts, incidents, flags; from the first
    recorded arrival to the last) is replaced, so a re-run leaves the rows of a clean run."""
    from pipeline.backfill import CLOCKS  # here, not at the top: pyarrow stays out of the worker
    from pipeline.backfill.files import backfill_files, count_records
    from pipeline.backfill.retention import explain, scan_event_times
    from pipeline.warehouse import migrate, open_warehouse

    from ..allocator import tune_allocator
    from ..garbage_collector import tune_garbage_collector
    from ..runtime import load_admin_registry, store_admin_units, store_camera_inventory

    if clock not in CLOCKS:
        raise typer.BadParameter(
            f"{clock!r}: choose one of {', '.join(CLOCKS)}", param_hint="--clock"
        )
    # before the warehouse is touched: a CSV or an empty file stores nothing
    check_replay_files(files)
    settings = load_settings(settings_file)
    if processes is not None:
        settings = settings.model_copy(update={"backfill_processes": processes})
    tune_allocator(batch=True)  # a batch job: large temporaries stay in the heap
    console = Console(stderr=True)
    # before the warehouse is touched: history the warehouse would drop is refused, not lost
    check = scan_event_times(
        files, settings, int(time.time() * 1000), clock=clock, chunk_records=chunk
    )
    if check.outside and not ignore_retention:
        raise ConfigurationError(explain(check, loading=False))
    if check.outside:
        console.print(explain(check, loading=True), markup=False, highlight=False)
    registry = load_admin_registry(settings)
    total = sum(count_records(f) for f in files)
    began = time.perf_counter()
    # the admin connection: a backfill deletes the span it rewrites (the writer may not)
    with open_warehouse(settings.resolved_admin_warehouse_url) as warehouse:
        for change in migrate(warehouse, retention=settings.retention):
            if change.startswith("retention "):  # the settings changed how long rows are kept
                console.print(f"warehouse {change}", markup=False, highlight=False)
        store_admin_units(registry, warehouse)
        store_camera_inventory(settings, registry, warehouse)
        # Start-up is done: full collections walking the registry, Numba and chDB objects
        # cost about 10% of a backfill's time (benchmarks/README.md).
        tune_garbage_collector()
        with RecordProgress("backfill", total, console=console, enabled=progress) as bar:
            report, broken = backfill_files(
                settings,
                registry,
                warehouse,
                files,
                clock=clock,
                flush=flush,
                chunk_records=chunk,
                correlate=correlate,
                progress=bar.advance,
            )
        held = _alerts_held(warehouse, check.oldest_ms, check.newest_ms)
    elapsed = time.perf_counter() - began
    for bad in broken:
        console.print(
            f"{bad.path}:{bad.line_number}: {bad.reason}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    summary = Table(title=f"Backfill of {len(files)} file(s) in {elapsed:.1f} s")
    summary.add_column("what")
    summary.add_column("count", justify="right")
    rows = [
        ("records read", report.records),
        ("broken lines (reported above)", len(broken)),
        ("alerts written", report.alerts),
        ("alerts held for the files' event times (read back)", held),
        ("duplicates dropped", report.duplicates),
        *((f"dead letters: {reason}", n) for reason, n in sorted(report.deadletters.items())),
        ("incidents", report.incidents),
        ("flag versions", report.flag_events),
        *(
            (f"replaced: {table} an earlier run stored in this range", n)
            for table, n in sorted(report.replaced.items())
        ),
    ]
    for what, count in rows:
        summary.add_row(what, f"{count:,}")
    summary.add_row("newest event time", format_ms(report.newest_event_ms))
    summary.add_row("the files' event times", _dates(check))
    summary.add_row("records per second", f"{report.records / max(elapsed, 1e-9):,.0f}")
    stdout_console().print(summary)


def _alerts_held(warehouse, since_ms: int | None, until_ms: int | None) -> int:
    """Alerts the warehouse holds between two event times, read back: what was kept, after
    duplicates and retention, not what was written."""
    if since_ms is None or until_ms is None:
        return 0
    rows = warehouse.query(
        f"SELECT count() FROM {warehouse.database}.alerts FINAL WHERE event_time "
        f"BETWEEN fromUnixTimestamp64Milli({since_ms}) AND fromUnixTimestamp64Milli({until_ms})"
    )
    return int(rows[0][0])


def _dates(check) -> str:
    """The scanned records' first and last event time, for the summary."""
    return f"{format_ms(check.oldest_ms)} to {format_ms(check.newest_ms)}"
