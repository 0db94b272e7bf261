"""A terminal progress line for replays and backfills: records, rate, event-time position."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["RecordProgress", "format_ms"]


def format_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class RecordProgress:
    """``with RecordProgress("sent", total) as p: p.advance(n, event_ms)``."""

    def __init__(
        self, what: str, total: int | None, *, console: Console | None = None, enabled: bool = True
    ) -> None:
        self._progress = Progress(
            TextColumn(f"[bold]{what}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("event time {task.fields[event]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            disable=not enabled,
        )
        self._task = self._progress.add_task(what, total=total, rate="", event="-")

    def __enter__(self) -> RecordProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self, n: int, event_ms: int | None = None) -> None:
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        rate = f"{(task.completed + n) / elapsed:,.0f}/s" if elapsed > 0 else ""
        fields = {"rate": rate}
        if event_ms is not None:
            fields["event"] = format_ms(event_ms)
        self._progress.update(self._task, advance=n, **fields)
