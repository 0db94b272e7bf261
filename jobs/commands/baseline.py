"""``hotspot baseline fit``: expected rates per cell and hour of week from a warehouse period."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.exceptions import ConfigurationError
from pipeline.settings import load_settings

from .options import SettingsFile, check_range, parse_time
from .progress import format_ms

__all__ = ["baseline_app"]

baseline_app = typer.Typer(help="Fitted baselines.", no_args_is_help=True)


#: Without --since/--until a fit reads the stored alerts of this period before the newest one:
#: rates per hour of week need several weeks, and a city's recent weeks describe it best.
DEFAULT_HISTORY_MS = 8 * 7 * 86_400_000
#: Below this much history a fit is made but said to be thin: each hour of the week seen once.
SHORT_HISTORY_MS = 7 * 86_400_000


@baseline_app.command("fit")
def fit(
    since: Annotated[
        int | None,
        typer.Option(
            help="First event time of the history (ISO or epoch ms). Default: 8 weeks before "
            "--until, or the oldest stored alert if that is later.",
            parser=parse_time,
        ),
    ] = None,
    until: Annotated[
        int | None,
        typer.Option(
            help="End of the history, excluded (ISO or epoch ms). Default: just after the "
            "newest stored alert.",
            parser=parse_time,
        ),
    ] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Fit and store a baseline; correlators use the newest fit from their next start."""
    from pipeline.correlate.baseline.store import fit_history, store_fit
    from pipeline.export import stored_span
    from pipeline.routing import city_projection
    from pipeline.warehouse import migrate

    from ..runtime import load_admin_registry
    from .warehouse import open_existing_warehouse

    if since is not None and until is not None:
        check_range(since, until)  # before anything is opened
    settings = load_settings(settings_file)
    registry = load_admin_registry(settings)
    with open_existing_warehouse(settings) as warehouse:
        migrate(warehouse)
        count, first, last = stored_span(warehouse, "alerts")
        if not count:
            raise ConfigurationError(
                "the warehouse holds no alerts to fit on: load history first with "
                "`hotspot backfill FILE` (or run a worker for a while), then fit again"
                + _retention_note(settings.retention.alerts)
            )
        until_ms = last + 1 if until is None else until
        since_ms = max(first, until_ms - DEFAULT_HISTORY_MS) if since is None else since
        check_range(since_ms, until_ms)
        if since is None or until is None:
            whole = since_ms == first and until_ms == last + 1
            typer.echo(
                f"fitting on the stored alerts from {format_ms(since_ms)} to "
                f"{format_ms(until_ms)}: "
                + ("all the stored history" if whole else "up to 8 weeks of the stored history")
                + " (--since/--until choose another period)"
            )
        fitted, n = fit_history(
            warehouse, registry, city_projection(registry), settings.correlation, since_ms, until_ms
        )
        if n == 0:
            raise ConfigurationError(
                f"no stored alerts from {format_ms(since_ms)} to {format_ms(until_ms)}; the "
                f"warehouse holds {count:,} alerts from {format_ms(first)} to {format_ms(last)}: "
                "choose --since/--until within it, or leave them out to fit on it all"
                + _retention_note(settings.retention.alerts)
            )
        fit_id = store_fit(warehouse, fitted, settings.correlation, since_ms, until_ms)
    typer.echo(
        f"baseline {fit_id}: {n:,} alerts, {len(fitted.cell_ids):,} cells with history, "
        f"fallback {fitted.fallback.mean():.3g} alerts/h/km², dispersion {fitted.dispersion:.3g}"
    )
    if until_ms - since_ms < SHORT_HISTORY_MS:
        typer.echo(
            f"note: {(until_ms - since_ms) / 86_400_000:.1f} days of history is thin: rates per "
            "hour of the week need a week at least and several to be steady; until then cells "
            "lean on their district's rate. Load more history and fit again.",
            err=True,
        )


def _retention_note(days: int) -> str:
    """Why older history may be missing: the warehouse drops alerts past their retention."""
    if not days:
        return ""
    return (
        f" (the warehouse keeps alerts for {days} days, HOTSPOT_RETENTION__ALERTS: older ones "
        "are dropped)"
    )
