"""``hotspot export``: flags, incidents or alerts of a time range as JSON Lines or CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.settings import load_settings

from .options import SettingsFile
from .replay import parse_time

__all__ = ["export"]


def export(
    what: Annotated[str, typer.Argument(help="flags, incidents or alerts")],
    since: Annotated[str, typer.Option(help="First time (ISO 8601 or epoch ms).")],
    until: Annotated[str, typer.Option(help="End time, excluded (ISO 8601 or epoch ms).")],
    out: Annotated[Path | None, typer.Option(help="Output file (else standard output).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    settings_file: SettingsFile = None,
) -> None:
    """Write warehouse rows of a time range, in a fixed order, for comparing runs."""
    from pipeline.export import EXPORTS, FORMATS, export_rows, write_export
    from pipeline.warehouse import open_warehouse

    if what not in EXPORTS:
        raise typer.BadParameter(f"choose one of {', '.join(EXPORTS)}")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    settings = load_settings(settings_file)
    with open_warehouse(settings.resolved_warehouse_url) as warehouse:
        rows = export_rows(warehouse, what, parse_time(since), parse_time(until))
        n = write_export(rows, out if out is not None else sys.stdout, fmt)
    typer.echo(f"{n:,} {what} written to {out or 'standard output'}", err=True)
