"""``hotspot evaluate``: detection quality of the engine on a simulated run with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from .options import SettingsFile, check_replay_files

__all__ = ["evaluate"]


def evaluate(
    replay: Annotated[
        Path,
        typer.Option(
            help="Replay file (replay.jsonl of `hotspot simulate`).", exists=True, dir_okay=False
        ),
    ],
    truth: Annotated[
        Path, typer.Option(help="Its ground truth (truth.json).", exists=True, dir_okay=False)
    ],
    registry: Annotated[
        Path,
        typer.Option(
            help="The city's admin registry (registry.geojson).", exists=True, dir_okay=False
        ),
    ],
    history: Annotated[
        Path | None,
        typer.Option(
            help="Replay of an earlier period of the same city to fit the baseline "
            "(else the city-wide fallback, learning from the stream).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    false_alarms: Annotated[
        bool,
        typer.Option(
            help="Also print the false alarms stations recorded per cell (the warehouse's "
            "false_alarms_by_cell, filled by the worker from hotspots.notices)."
        ),
    ] = False,
    settings_file: SettingsFile = None,
) -> None:
    """Print recall, median time to first flag and false flags per 10 km² per day."""
    from pipeline.evaluate import evaluate_replay
    from pipeline.settings import load_settings

    check_replay_files([replay, *([history] if history else [])])
    r = evaluate_replay(
        _nothing_stored(load_settings(settings_file)), replay, truth, registry, history
    )
    delay = "n/a" if r.median_delay_s is None else f"{r.median_delay_s / 60:.1f} min"
    typer.echo(f"planted hotspots:           {r.planted}")
    typer.echo(f"detected:                   {r.detected}")
    typer.echo(f"recall:                     {r.recall:.2f}")
    typer.echo(f"median time to first flag:  {delay}")
    typer.echo(f"flags opened:               {r.flags_opened}")
    typer.echo(f"false flags:                {r.false_flags}")
    typer.echo(f"false flags per 10 km²/day: {r.false_flags_per_10km2_day:.2f}")
    for i, d in enumerate(r.delays_s):
        typer.echo(f"  hotspot {i + 1}: " + ("missed" if d is None else f"{d / 60:.1f} min"))
    if false_alarms:
        _print_false_alarms(load_settings(settings_file))


def _print_false_alarms(settings) -> None:
    """The stations' verdicts beside the engine's: false alarms per cell from the warehouse."""
    from pipeline.report import false_alarm_cells

    from .warehouse import open_existing_warehouse

    with open_existing_warehouse(settings) as warehouse:
        total, cells = false_alarm_cells(warehouse)
    typer.echo(f"false alarms recorded:      {total}")
    for c in cells:
        typer.echo(
            f"  cell {c.cell_id} ({c.grid_code or '?'}, {c.station_id or '?'}): "
            f"{c.false_alarms} ({', '.join(c.reasons)})"
        )


#: the pseudonym key of an evaluation run without one: it stores nothing, so no key is made
_EVALUATION_KEY = "hotspot evaluate: in memory, nothing stored"


def _nothing_stored(settings):
    """The settings, with a fixed in-process key when none is configured or kept: an
    evaluation reads files and prints figures, and must not leave a pseudonym.key behind."""
    from pipeline.exceptions import ConfigurationError

    try:
        settings.pseudonym_secret(create=False)
    except ConfigurationError:
        return settings.model_copy(update={"pseudonym_key": SecretStr(_EVALUATION_KEY)})
    return settings
