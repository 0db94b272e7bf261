"""``hotspot report ratings --month YYYY-MM [--street CODE]``: each street office's ratings of
its compounds for the month (the table it publishes at its monthly meeting)."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import stdout_console
from .options import SettingsFile

__all__ = ["ratings_report"]


def ratings_report(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM (rated by `hotspot ratings`).")],
    street: Annotated[
        str | None, typer.Option(help="Only this street office (its street code).")
    ] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Per street: its compounds per colour with the change from last month, how many rate
    better or worse, and the compounds under supervised rectification (red or yellow two months
    running) with their property-management company."""
    from pipeline.ratings import Month
    from pipeline.report import street_ratings, street_ratings_tables
    from pipeline.settings import load_settings

    from ..runtime import load_admin_registry
    from .warehouse import open_existing_warehouse

    chosen = Month.parse(month)  # a ConfigurationError says how to write it
    settings = load_settings(settings_file)
    registry = load_admin_registry(settings) if settings.resolved_registry_path.exists() else None
    with open_existing_warehouse(settings) as warehouse:
        reports = street_ratings(warehouse, chosen, registry, street)
    streets, listed = street_ratings_tables(reports)
    console = stdout_console()
    console.print(streets)
    if listed.row_count:
        console.print(listed)
    else:
        console.print(f"no compound under rectification in {chosen}")
