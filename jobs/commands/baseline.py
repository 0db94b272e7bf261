"""``hotspot baseline fit``: expected rates per cell and hour of week from a warehouse period."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.settings import load_settings

from .options import SettingsFile, check_range, parse_time

__all__ = ["baseline_app"]

baseline_app = typer.Typer(help="Fitted baselines.", no_args_is_help=True)


@baseline_app.command("fit")
def fit(
    since: Annotated[
        int,
        typer.Option(help="First event time of the history (ISO or epoch ms).", parser=parse_time),
    ],
    until: Annotated[
        int,
        typer.Option(help="End of the history, excluded (ISO or epoch ms).", parser=parse_time),
    ],
    settings_file: SettingsFile = None,
) -> None:
    """Fit and store a baseline; correlators use the newest fit from their next start."""
    from pipeline.correlate.baseline.store import fit_history, store_fit
    from pipeline.routing import city_projection
    from pipeline.warehouse import migrate

    from ..runtime import load_admin_registry
    from .warehouse import open_existing_warehouse

    check_range(since, until)
    since_ms, until_ms = since, until
    settings = load_settings(settings_file)
    registry = load_admin_registry(settings)
    with open_existing_warehouse(settings) as warehouse:
        migrate(warehouse)
        fitted, n = fit_history(
            warehouse, registry, city_projection(registry), settings.correlation, since_ms, until_ms
        )
        if n == 0:
            raise typer.BadParameter("no stored alerts in that period; backfill it first")
        fit_id = store_fit(warehouse, fitted, settings.correlation, since_ms, until_ms)
    typer.echo(
        f"baseline {fit_id}: {n:,} alerts, {len(fitted.cell_ids):,} cells with history, "
        f"fallback {fitted.fallback.mean():.3g} alerts/h/km², dispersion {fitted.dispersion:.3g}"
    )
