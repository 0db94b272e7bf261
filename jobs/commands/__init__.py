"""Operator commands of the ``hotspot`` CLI, one module per topic (registered in jobs/cli.py)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the operator commands to the ``hotspot`` app."""
    from .backfill import backfill
    from .baseline import baseline_app
    from .convert import to_parquet
    from .export import export
    from .replay import replay
    from .report import map_command, top

    app.command()(backfill)
    app.command()(replay)
    app.command("to-parquet")(to_parquet)
    app.command()(export)
    app.command()(top)
    app.command("map")(map_command)
    app.add_typer(baseline_app, name="baseline")
