"""``hotspot replay``: recorded alerts back into Kafka, paced by their recorded time."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.alerts import SOURCES
from pipeline.settings import Settings, load_settings

from .options import SettingsFile, check_range, check_replay_files, kafka_brokers, parse_time
from .progress import RecordProgress

__all__ = ["replay"]


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a number") from exc
    if not speed > 0:
        raise typer.BadParameter(
            f"{value} would never send anything; give a positive speed (1 = real time, "
            "60 = an hour a minute), or --max for as fast as possible"
        )
    return speed


def _topic_map(value: str) -> dict:
    try:
        renames = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"{value!r} is not JSON ({exc.msg}); give an object of topic -> topic, e.g. "
            '\'{"alerts.camera": "test.camera"}\''
        ) from exc
    if not isinstance(renames, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in renames.items()
    ):
        raise typer.BadParameter(
            'give a JSON object of topic -> topic, e.g. \'{"alerts.camera": "test.camera"}\''
        )
    return renames


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
        float,
        typer.Option(
            help="Event-time seconds per wall second, above 0: 60 plays an hour a minute.",
            parser=_speed,
        ),
    ] = 60.0,
    max_speed: Annotated[bool, typer.Option("--max", help="As fast as possible.")] = False,
    start: Annotated[
        int | None,
        typer.Option(
            help="Start at this event time (ISO 8601 or epoch ms); earlier records are skipped.",
            parser=parse_time,
        ),
    ] = None,
    topic_map: Annotated[
        dict | None,
        typer.Option(
            help='JSON object renaming topics, e.g. {"alerts.camera": "test.camera"}.',
            parser=_topic_map,
            metavar="JSON",
        ),
    ] = None,
    from_warehouse: Annotated[
        bool,
        typer.Option(
            help="Replay stored alerts (as envelope records to the normalized topic) instead of "
            "files."
        ),
    ] = False,
    since: Annotated[
        int | None,
        typer.Option(help="With --from-warehouse: first event time.", parser=parse_time),
    ] = None,
    until: Annotated[
        int | None,
        typer.Option(help="With --from-warehouse: end event time.", parser=parse_time),
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
    renames = topic_map or {}
    pacing = Pacing(speed=None if max_speed else speed, start_ms=start)
    console = Console(stderr=True)
    broken: list = []
    unknown = sorted(set(feed or ()) - set(SOURCES))
    if unknown:
        raise typer.BadParameter(
            f"no feed {', '.join(unknown)}; choose from {', '.join(SOURCES)}", param_hint="--feed"
        )
    if from_warehouse:
        chunks, total, opened = _warehouse_source(settings, since, until, feed or list(SOURCES))
    else:
        if not files:
            raise typer.BadParameter("name replay files, or use --from-warehouse")
        from pipeline.backfill.files import count_records

        check_replay_files(files)
        chunks, opened = _file_source(files, broken), None
        total = sum(count_records(f) for f in files if f.exists())
    stop = threading.Event()
    try:
        with RecordProgress("replay", total, console=console, enabled=progress) as bar:
            sent = send_chunks(
                chunks,
                kafka_brokers(settings, bootstrap),
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


def _warehouse_source(settings: Settings, since: int | None, until: int | None, feeds):
    from pipeline.replay.warehouse import stored_count, warehouse_chunks
    from pipeline.routing import TileRouting

    from ..runtime import load_admin_registry
    from .warehouse import open_existing_warehouse

    if since is None or until is None:
        raise typer.BadParameter("--from-warehouse needs --since and --until")
    check_range(since, until)
    registry = load_admin_registry(settings)
    routing = TileRouting.from_settings(settings, registry)
    warehouse = open_existing_warehouse(settings)
    since_ms, until_ms = since, until
    stored = stored_count(warehouse, since_ms, until_ms, feeds)
    typer.echo(
        f"{stored:,} stored alerts (plus their halo copies) to {settings.topics.normalized}",
        err=True,
    )
    chunks = warehouse_chunks(
        warehouse, routing, settings.topics.normalized, since_ms, until_ms, feeds
    )
    return chunks, stored, warehouse  # progress counts stored alerts, as the chunks do
