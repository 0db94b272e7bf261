"""``hotspot worker``: run the pipeline worker in this process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from .options import LOG_LEVELS, SettingsFile, parse_log_level, positive, settings_from

__all__ = ["worker"]

#: client libraries whose INFO lines narrate every connection and rebalance step
_CHATTY = ("kafka", "aiokafka", "faust", "mode")
_REBALANCES = "aiokafka.consumer.group_coordinator"


def worker(
    settings_file: SettingsFile = None,
    until_drained: Annotated[
        bool, typer.Option(help="Stop once everything already in the topics is processed.")
    ] = False,
    log_level: Annotated[
        str, typer.Option(help=f"One of {', '.join(LOG_LEVELS)}.", parser=parse_log_level)
    ] = "info",
    log_every: Annotated[
        float,
        typer.Option(
            help="Seconds between progress lines (alerts in, dead letters, flags, lag).",
            parser=positive,
        ),
    ] = 30.0,
) -> None:
    """Run the pipeline worker (Ctrl-C stops it); a progress line every --log-every seconds
    and a summary when it stops."""
    from ..heartbeat import Heartbeat
    from ..runtime import open_runtime
    from ..worker import run_worker

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    if log_level != "debug":  # the clients' connection chatter: about 90 lines at start-up
        for name in _CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)
        # but a rebalance is worth a few lines: which partitions this worker holds now
        logging.getLogger(_REBALANCES).setLevel(log_level.upper())
    settings = settings_from(settings_file)
    with open_runtime(settings) as runtime:
        typer.echo(f"broker {runtime.bootstrap}, warehouse {settings.warehouse_display}")
        with Heartbeat(runtime.metrics, log_every):
            run_worker(runtime, until_drained=until_drained, loglevel=log_level)
