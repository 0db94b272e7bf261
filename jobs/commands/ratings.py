"""``hotspot ratings``: rate every compound red / yellow / green for one month or a range."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import SettingsFile


def ratings(
    month: Annotated[str | None, typer.Option(help="One month, YYYY-MM.")] = None,
    first: Annotated[str | None, typer.Option("--from", help="First month of a range.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last month of a range.")] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Rate compounds from property-crime alerts and write compound_ratings (thresholds and
    categories in the settings, `ratings.*`)."""
    from jobs.runtime import load_admin_registry
    from pipeline.exceptions import ConfigurationError
    from pipeline.ratings import (
        months_between,
        months_without_alerts,
        rate_compounds,
        write_ratings,
    )
    from pipeline.settings import load_settings
    from pipeline.warehouse import migrate

    from .warehouse import open_existing_warehouse

    if (month is None) == (first is None):
        raise typer.BadParameter("pass either --month YYYY-MM or --from YYYY-MM [--to YYYY-MM]")
    months = months_between(month or first, None if month else last)
    settings = load_settings(settings_file)
    registry = load_admin_registry(settings)
    with open_existing_warehouse(settings) as wh:
        migrate(wh)
        empty = months_without_alerts(wh, months, settings.ratings)
        if empty:
            raise ConfigurationError(
                f"no alerts stored for {', '.join(map(str, empty))}: every compound would be "
                "rated green for want of data, so nothing was written; backfill those months "
                "first, or rate months the warehouse holds"
            )
        result = rate_compounds(wh, registry, months, settings.ratings)
        rows = write_ratings(wh, result, registry)
    t = settings.ratings
    typer.echo(f"{rows} ratings written (yellow from {t.yellow_at}, red from {t.red_at} alerts)")
    typer.echo(
        f"{'month':<8} {'green':>6} {'yellow':>6} {'red':>6} {'red 2 months':>12} "
        f"{'rectification':>13}"
    )
    for line in result.summary():
        typer.echo(
            f"{line['month']:<8} {line['green']:>6} {line['yellow']:>6} {line['red']:>6} "
            f"{line['red_two_months']:>12} {line['under_rectification']:>13}"
        )
    groups = result.companies()
    typer.echo(f"companies with compounds under rectification in {months[-1]}: {len(groups)}")
    for group in groups:
        typer.echo(f"  {group.label}: {len(group.compounds)} ({', '.join(group.compounds)})")
