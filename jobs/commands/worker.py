"""``hotspot worker``: run the pipeline worker in this process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from .options import LOG_LEVELS, SettingsFile, parse_log_level, settings_from

__all__ = ["worker"]


def worker(
    settings_file: SettingsFile = None,
    until_drained: Annotated[
        bool, typer.Option(help="Stop once everything already in the topics is processed.")
    ] = False,
    log_level: Annotated[
        str, typer.Option(help=f"One of {', '.join(LOG_LEVELS)}.", parser=parse_log_level)
    ] = "info",
) -> None:
    """Run the pipeline worker (Ctrl-C stops it)."""
    from ..runtime import open_runtime
    from ..worker import run_worker

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_from(settings_file)
    with open_runtime(settings) as runtime:
        typer.echo(f"broker {runtime.bootstrap}, warehouse {settings.resolved_warehouse_url}")
        run_worker(runtime, until_drained=until_drained, loglevel=log_level)
