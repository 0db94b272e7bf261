"""The ``hotspot`` command line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from pipeline.exceptions import PipelineError
from pipeline.settings import Settings, load_settings

from .commands import dashboards as dashboards_commands
from .commands import ratings as ratings_command
from .commands import register as register_operator_commands
from .commands.evaluate import evaluate

app = typer.Typer(help="Real-time alert correlation and hotspot flags.", no_args_is_help=True)
deadletter_app = typer.Typer(help="Inspect dead letters.", no_args_is_help=True)
app.add_typer(deadletter_app, name="deadletter")
app.add_typer(dashboards_commands.app, name="dashboards")
app.command()(ratings_command.ratings)
app.command()(evaluate)
register_operator_commands(app)  # replay, to-parquet, backfill, export, baseline, top, map

SettingsFile = Annotated[
    Path | None, typer.Option("--settings", help="TOML settings file (else HOTSPOT_SETTINGS_FILE).")
]


def _settings(file: Path | None, **overrides) -> Settings:
    return load_settings(file, **{k: v for k, v in overrides.items() if v is not None})


@app.command()
def worker(
    settings_file: SettingsFile = None,
    until_drained: Annotated[
        bool, typer.Option(help="Stop once everything already in the topics is processed.")
    ] = False,
    log_level: str = "info",
) -> None:
    """Run the pipeline worker (Ctrl-C stops it)."""
    from .runtime import open_runtime
    from .worker import run_worker

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = _settings(settings_file)
    with open_runtime(settings) as runtime:
        typer.echo(f"broker {runtime.bootstrap}, warehouse {settings.resolved_warehouse_url}")
        run_worker(runtime, until_drained=until_drained, loglevel=log_level)


@app.command()
def simulate(
    out: Annotated[
        Path, typer.Option(help="Folder for registry.geojson, replay.jsonl, truth.json")
    ],
    hours: Annotated[float, typer.Option(help="Simulated duration, hours.")] = 24.0,
    scale: Annotated[float, typer.Option(help="1.0 = a mid-size city's normal day.")] = 1.0,
    seed: int = 7,
    hotspots: Annotated[int, typer.Option(help="Planted hotspots.")] = 4,
    start: Annotated[
        str | None, typer.Option(help="ISO start time; default: the last `hours` before now.")
    ] = None,
    to_kafka: Annotated[
        str | None, typer.Option(help="Also send the stream to this bootstrap (host:port).")
    ] = None,
) -> None:
    """Simulate a city: admin registry, a replay file of the four feeds, and the ground truth."""
    from pipeline.kafka import send_chunks
    from pipeline.replay import read_jsonl_chunks
    from pipeline.sim import run_simulation

    begin = datetime.fromisoformat(start) if start else _recent_start(hours)
    files = run_simulation(
        out,
        seed=seed,
        start=begin,
        duration=timedelta(hours=hours),
        scale=scale,
        n_hotspots=hotspots,
    )
    typer.echo(f"registry {files.registry}\nreplay   {files.replay}\ntruth    {files.truth}")
    if to_kafka:
        sent = send_chunks(read_jsonl_chunks(files.replay, []), to_kafka)
        typer.echo(f"sent {sent} messages to {to_kafka}")


def _recent_start(hours: float) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(hours=hours)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        "var/demo"
    ),
    hours: Annotated[float, typer.Option(help="Simulated hours of city life.")] = 3.0,
    scale: Annotated[float, typer.Option(help="Volume relative to a mid-size city.")] = 0.5,
    seed: int = 7,
) -> None:
    """Embedded broker + warehouse, a simulated city, the worker; then what it found."""
    from .demo import run_demo

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(message)s")
    run_demo(data_dir, hours=hours, scale=scale, seed=seed)


@app.command()
def schemas(
    check: Annotated[bool, typer.Option(help="Fail if the committed files are stale.")] = False,
) -> None:
    """Write the JSON Schemas of every wire format into schemas/wire/."""
    from pipeline.jsonschemas import SCHEMA_DIR, stale_schemas, write_schemas

    if check:
        stale = stale_schemas()
        if stale:
            typer.echo(f"stale schemas in {SCHEMA_DIR}: {', '.join(stale)}; run `hotspot schemas`")
            raise typer.Exit(1)
        typer.echo("schemas are current")
        return
    for path in write_schemas():
        typer.echo(str(path))


@deadletter_app.command("show")
def deadletter_show(
    settings_file: SettingsFile = None,
    limit: int = 20,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
) -> None:
    """Print recent dead letters with their original bytes opened (needs the pseudonym key)."""
    from pipeline.deadletter import Reason, Sealer
    from pipeline.warehouse import open_warehouse

    if reason is not None and reason not in set(Reason):
        raise typer.BadParameter(f"reason must be one of {', '.join(Reason)}")
    settings = _settings(settings_file)
    sealer = Sealer(settings.pseudonym_secret())
    where = f"WHERE reason = '{Reason(reason).value}'" if reason else ""
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        rows = wh.query(
            f"SELECT received_time, reason, topic, partition, offset, detail, payload_sealed "
            f"FROM {wh.database}.deadletters FINAL {where} ORDER BY received_time DESC "
            f"LIMIT {int(limit)}"
        )
    for when, why, topic, partition, offset, detail, sealed in rows:
        payload = sealer.open(sealed).decode("utf-8", errors="replace")
        typer.echo(f"{when} {why:<16} {topic}[{partition}]@{offset} {detail}\n    {payload}")


def main() -> None:
    try:
        app()
    except PipelineError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise SystemExit(2) from exc
