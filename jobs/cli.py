"""The ``hotspot`` command line: the app, its commands (registered by :mod:`jobs.commands`),
and how a :class:`~pipeline.exceptions.PipelineError` reaches the user."""

from __future__ import annotations

import typer

from pipeline.exceptions import PipelineError

from .commands import register

__all__ = ["app", "main"]

app = typer.Typer(help="Real-time alert correlation and hotspot flags.", no_args_is_help=True)
register(app)


def main() -> None:
    try:
        app()
    except PipelineError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise SystemExit(2) from exc
