"""``hotspot replay``: recorded alerts back into Kafka, paced by their recorded time."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.alerts import SOURCES
from pipeline.settings import Settings, load_settings

from .options import SettingsFile
from .progress import RecordProgress

__all__ = ["replay", "parse_time"]


def parse_time(value: str | None) -> int | None:
    """Epoch milliseconds of an ISO 8601 time (with offset; UTC if none) or of epoch ms."""
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a time; use ISO 8601 (2026-11-24T09:00+08:00) or epoch ms"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def _bootstrap(settings: Settings, given: str | None) -> str:
    if given:
        return given
    if settings.broker_url == "embedded":
        raise typer.BadParameter(
            "the settings use the embedded broker, which lives inside a worker: pass "
            "--bootstrap HOST:PORT of the running broker (the worker prints it)"
        )
    from pipeline.kafka import bootstrap_servers

    return bootstrap_servers(settings.broker_url)


def replay(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Replay files: JSON Lines ({topic, key, value, ts} a line) or Parquet."
        ),
    ] = None,
    settings_file: SettingsFile = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka HOST:PORT (else the settings').")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Event-time seconds per wall second: 60 plays an hour a minute.")
    ] = 60.0,
    max_speed: Annotated[bool, typer.Option("--max", help="As fast as possible.")] = False,
    start: Annotated[
        str | None,
        typer.Option(
            help="Start at this event time (ISO 8601 or epoch ms); earlier records are skipped."
        ),
    ] = None,
    topic_map: Annotated[
        str | None,
        typer.Option(help='JSON object renaming topics, e.g. {"alerts.camera": "test.camera"}.'),
    ] = None,
    from_warehouse: Annotated[
        bool,
        typer.Option(
            help="Replay stored alerts (as envelope records to the normalized topic) instead of "
            "files."
        ),
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="With --from-warehouse: first event time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="With --from-warehouse: end event time.")
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(help="With --from-warehouse: only these feeds (repeat the option)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Send recorded alerts to the Kafka topics, keeping their recorded times."""
    from pipeline.kafka import Pacing, send_chunks

    settings = load_settings(settings_file)
    renames = json.loads(topic_map) if topic_map else {}
    if not isinstance(renames, dict):
        raise typer.BadParameter("--topic-map must be a JSON object of topic -> topic")
    pacing = Pacing(speed=None if max_speed else speed, start_ms=parse_time(start))
    console = Console(stderr=True)
    broken: list = []
    if from_warehouse:
        chunks, total, opened = _warehouse_source(settings, since, until, feed or list(SOURCES))
    else:
        if not files:
            raise typer.BadParameter("name replay files, or use --from-warehouse")
        from pipeline.backfill.files import count_records

        chunks, opened = _file_source(files, broken), None
        total = sum(count_records(f) for f in files if f.exists())
    stop = threading.Event()
    try:
        with RecordProgress("replay", total, console=console, enabled=progress) as bar:
            sent = send_chunks(
                chunks,
                _bootstrap(settings, bootstrap),
                topic_map=renames,
                pacing=pacing,
                stop=stop,
                progress=bar.advance,
            )
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        if opened is not None:
            opened.close()
    for path, bad in broken:
        console.print(
            f"{path}:{bad.line_number}: {bad.reason}", markup=False, highlight=False, soft_wrap=True
        )
    what = "stored alerts" if from_warehouse else "records"
    typer.echo(f"sent {sent:,} {what}; {len(broken):,} broken lines skipped (listed above)")


def _file_source(files: list[Path], broken: list):
    from pipeline.backfill.files import read_chunks

    for path in files:
        bad: list = []
        yield from read_chunks(path, bad, 20_000)
        broken += [(path, b) for b in bad]


def _warehouse_source(settings: Settings, since: str | None, until: str | None, feeds):
    from pipeline.replay.warehouse import stored_count, warehouse_chunks
    from pipeline.routing import TileRouting
    from pipeline.warehouse import open_warehouse

    from ..runtime import load_admin_registry

    if since is None or until is None:
        raise typer.BadParameter("--from-warehouse needs --since and --until")
    registry = load_admin_registry(settings)
    routing = TileRouting.from_settings(settings, registry)
    warehouse = open_warehouse(settings.resolved_warehouse_url)
    since_ms, until_ms = parse_time(since), parse_time(until)
    stored = stored_count(warehouse, since_ms, until_ms, feeds)
    typer.echo(
        f"{stored:,} stored alerts (plus their halo copies) to {settings.topics.normalized}",
        err=True,
    )
    chunks = warehouse_chunks(
        warehouse, routing, settings.topics.normalized, since_ms, until_ms, feeds
    )
    return chunks, stored, warehouse  # progress counts stored alerts, as the chunks do
