"""``hotspot evaluate``: detection quality of the engine on a simulated run with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from .options import SettingsFile, check_replay_files

__all__ = ["evaluate", "report_lines"]


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
    """Print recall (hotspots a flag opened for), covered hotspots, median delays after onset
    and after the third alert, false flags per 10 km² per day, precision, and the claimed
    versus observed false-flag rate."""
    from pipeline.evaluate import evaluate_replay
    from pipeline.settings import load_settings

    check_replay_files([replay, *([history] if history else [])])
    r = evaluate_replay(
        _nothing_stored(load_settings(settings_file)), replay, truth, registry, history
    )
    for line in report_lines(r):
        typer.echo(line)
    if false_alarms:
        _print_false_alarms(load_settings(settings_file))


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f} min"


def _rate(per_day: float) -> str:
    """One decimal, or two significant digits below 1 (a 30-day bar claims 0.033 a day)."""
    return f"{per_day:.1f}" if per_day >= 1 or per_day == 0 else f"{per_day:.2g}"


def _tests(per_day: float) -> str:
    """Whole tests, or two significant digits below 100 (a sparse city makes 0.04-0.18 a
    day)."""
    return f"{per_day:,.0f}" if per_day >= 100 else f"{per_day:.2g}"


def report_lines(r) -> list[str]:
    """The lines ``hotspot evaluate`` prints for a :class:`DetectionReport`, figures first,
    then one line per planted hotspot."""
    claimed = r.claimed_false_flags_per_day
    lines = [
        f"planted hotspots:            {r.planted}",
        f"detected (a flag opened):    {r.detected}",
        f"recall:                      {r.recall:.2f}",
        f"covered at onset:            {r.n_covered} (by {r.covering_flags} open flags, "
        f"{r.covering_false} of them false flags before the onset)",
        f"recall counting covered:     {r.recall_with_covered:.2f} (the pre-issue-23 figure)",
        f"median delay after onset:    {_minutes(r.median_delay_s)}",
        f"median delay after 3rd alert: {_minutes(r.median_delay_after_third_s)}",
        f"flags opened:                {r.flags_opened}",
        f"false flags:                 {r.false_flags}",
        f"false flags per 10 km²/day:  {r.false_flags_per_10km2_day:.2f}",
        f"precision:                   {r.precision:.2f}",
        f"false flags per day:         {_rate(r.false_flags_per_day)} observed, "
        + ("n/a claimed" if claimed is None else f"{_rate(claimed)} claimed by the threshold"),
    ]
    if r.cell_tests_per_day is not None:
        lines.append(
            f"cell tests per day:          {_tests(r.cell_tests_per_day)} effective, counted"
            " (a fitted baseline's bars use the estimate from it; without one, set"
            " correlation.cell_tests_per_day to this figure)"
        )
    for i, d in enumerate(r.delays_s):
        third = r.delays_after_third_s[i] if r.delays_after_third_s else None
        if d is not None:
            what = f"opened after {_minutes(d)}" + (
                "" if third is None else f" ({_minutes(third)} after its third alert)"
            )
        elif r.covered and r.covered[i]:
            what = "covered: a flag was already open at its onset"
        else:
            what = "missed"
        lines.append(f"  hotspot {i + 1}: {what}")
    return lines


def _print_false_alarms(settings) -> None:
    """The stations' verdicts beside the engine's: false alarms per cell from the warehouse."""
    from pipeline.report import false_alarm_cells

    from .warehouse import open_existing_warehouse

    with open_existing_warehouse(settings) as warehouse:
        total, cells = false_alarm_cells(warehouse)
    typer.echo(f"false alarms recorded:       {total}")
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
