"""``hotspot trends [--since DAY] [--until DAY]``: the daily emerging hot-spot classification of
every grid cell (pipeline/trends), written to ``cell_trends`` and printed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from .options import SettingsFile

__all__ = ["trends"]


def trends(
    since: Annotated[
        str | None, typer.Option(help="First day to classify, YYYY-MM-DD (default: --until).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Last day to classify, YYYY-MM-DD (default: yesterday, local time)."),
    ] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Classify every grid cell as ArcGIS's Emerging Hot Spot Analysis does (new, consecutive,
    intensifying, persistent, diminishing, sporadic, oscillating, historical hot or cold spot,
    or no pattern) from Gi* per time step and a Mann-Kendall trend, for each day; write
    cell_trends (re-running a day replaces it) and print the patterns per day and the cells
    with a pattern on the last day. Thresholds: the settings' `trends.*`."""
    from pipeline.settings import load_settings
    from pipeline.trends import classify_days, days_between, write_trends
    from pipeline.trends.daily import parse_day
    from pipeline.warehouse import migrate

    from ..runtime import load_admin_registry
    from .console import stdout_console
    from .warehouse import open_existing_warehouse

    settings = load_settings(settings_file)
    t = settings.trends
    if until is None and since is not None:
        until = parse_day(since, "--since").isoformat()  # --since alone: that one day
    if until is None:
        today = (datetime.now(UTC) + timedelta(minutes=t.utc_offset_min)).date()
        until = (today - timedelta(days=1)).isoformat()
    days = days_between(since, until)  # a ConfigurationError says how to write them
    registry = load_admin_registry(settings)
    with open_existing_warehouse(settings) as wh:
        migrate(wh)
        result = classify_days(wh, registry, days, t)
        rows = write_trends(wh, result, registry)
    typer.echo(
        f"{rows} cell trends stored: {len(result.grid_codes)} grid cells x {len(days)} days; "
        f"windows of {t.steps} steps of {t.step_minutes} min, hot/cold at FDR {t.alpha}, "
        f"trend at p < {t.trend_alpha}, persistent from {t.share:.0%} of steps; counted "
        f"{', '.join(t.sources)}"
    )
    if result.unplaced:
        typer.echo(
            f"{result.unplaced} alerts name grid cells the registry does not hold (not counted): "
            "was the registry replaced?"
        )
    for line in result.summary():
        counts = ", ".join(f"{name} {n}" for name, n in line.items() if name != "day")
        typer.echo(f"{line['day']}: {counts}")
    listed = result.listed()
    console = stdout_console()
    if not listed:
        console.print(f"no grid cell has a pattern on {days[-1]}")
        return
    from rich.table import Table

    table = Table(title=f"Grid cells with a pattern on {days[-1]} (hot spots first)")
    for column in ("grid", "pattern", "hot steps", "cold steps", "trend", "trend p", "alerts"):
        table.add_column(column, justify="left" if column in ("grid", "pattern") else "right")
    for c in listed:
        table.add_row(
            c["grid"],
            c["pattern"],
            str(c["hot_steps"]),
            str(c["cold_steps"]),
            f"{c['trend']:+.2f}",
            f"{c['trend_p']:.3f}",
            str(c["alerts"]),
        )
    console.print(table)
