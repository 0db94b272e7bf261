"""``hotspot report notices --month YYYY-MM``: the month's accountability list of the patrol
loop (stations with notices unacknowledged at the escalation, 30 minutes)."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import SettingsFile
from .ratings_report import ratings_report

__all__ = ["report_app"]

report_app = typer.Typer(
    help="Reports for patrol leads and street offices, read from the warehouse."
)


@report_app.command("notices")
def notices(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM (local time, ratings' offset).")],
    settings_file: SettingsFile = None,
) -> None:
    """Units with notices of MONTH unacknowledged at the escalation (notice_escalation_s)."""
    from pipeline.ratings import Month
    from pipeline.report import overdue_units
    from pipeline.settings import load_settings

    from .warehouse import open_existing_warehouse

    chosen = Month.parse(month)  # a ConfigurationError says how to write it
    settings = load_settings(settings_file)
    with open_existing_warehouse(settings) as warehouse:
        units = overdue_units(warehouse, chosen, settings.ratings.utc_offset_min)
    minutes = settings.notice_escalation_s / 60
    typer.echo(f"notices of {chosen} unacknowledged at {minutes:g} minutes, by station")
    if not units:
        typer.echo("none")
        return
    typer.echo(f"{'station':<16} {'issued':>6} {'overdue':>7} {'late':>5} {'never':>5} worst")
    for u in units:
        worst = "never" if u.worst_receipt_min is None else f"{u.worst_receipt_min:.0f} min"
        typer.echo(
            f"{u.station_id:<16} {u.issued:>6} {u.overdue:>7} {u.received_late:>5} "
            f"{u.never_received:>5} {worst}"
        )


report_app.command("ratings")(ratings_report)
