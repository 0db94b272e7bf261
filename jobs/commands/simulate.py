"""``hotspot simulate``: a simulated city's admin registry, replay file and ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from .options import SettingsFile, out_folder, parse_moment, positive, settings_from

__all__ = ["simulate"]


def simulate(
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for registry.geojson, replay.jsonl, truth.json (created if missing).",
            parser=out_folder,
            metavar="FOLDER",
        ),
    ],
    hours: Annotated[
        float | None,
        typer.Option(
            help="Simulated duration, hours (default 24; with --sparse 2160, 90 days).",
            parser=positive,
            show_default=False,
        ),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(
            help="1.0 = a mid-size city's normal day (default 1; with --sparse: about 100 "
            "records a day).",
            parser=positive,
            show_default=False,
        ),
    ] = None,
    seed: int = 7,
    hotspots: Annotated[int, typer.Option(help="Planted hotspots.", min=0)] = 4,
    start: Annotated[
        datetime | None,
        typer.Option(
            help="Start time, ISO 8601 or epoch ms; default: the last `hours` before now.",
            parser=parse_moment,
            metavar="TIME",
        ),
    ] = None,
    sparse: Annotated[
        bool,
        typer.Option(
            "--sparse",
            help="A sparse city: 1,008 km² (36 x 28 km), about 100 records a day, 90 days.",
        ),
    ] = False,
    to_kafka: Annotated[
        str | None, typer.Option(help="Also send the stream to this bootstrap (host:port).")
    ] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Simulate a city: admin registry, a replay file of the four feeds, and the ground truth."""
    from pipeline.kafka import send_chunks
    from pipeline.kafka.clients import Brokers
    from pipeline.replay import read_jsonl_chunks
    from pipeline.sim import SPARSE, run_simulation

    hours = hours if hours is not None else SPARSE.days * 24 if sparse else 24.0
    begin = start or _recent_start(hours)
    duration = timedelta(hours=hours)
    if scale is None:
        scale = SPARSE.scale(duration, begin) if sparse else 1.0
    files = run_simulation(
        out,
        seed=seed,
        start=begin,
        duration=duration,
        scale=scale,
        n_hotspots=hotspots,
        city=SPARSE.city_for(seed) if sparse else None,
    )
    typer.echo(f"registry {files.registry}\nreplay   {files.replay}\ntruth    {files.truth}")
    if to_kafka:
        # the settings' SASL and TLS options: a secured cluster refuses a plaintext client
        brokers = Brokers.from_settings(settings_from(settings_file), to_kafka)
        sent = send_chunks(read_jsonl_chunks(files.replay, []), brokers)
        typer.echo(f"sent {sent} messages to {to_kafka}")


def _recent_start(hours: float) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(hours=hours)
