"""``hotspot ack NOTICE --unit STATION --action received``: an ack for a station without a
client, sent to ``hotspots.acks`` as a client would send it."""

from __future__ import annotations

import time
from typing import Annotated

import numpy as np
import typer

from pipeline.patrol.wire import ACTIONS, FALSE_ALARM_REASONS
from pipeline.settings import load_settings

from .options import SettingsFile, kafka_brokers, parse_time

__all__ = ["ack"]


def ack(
    notice: Annotated[
        str,
        typer.Argument(
            help="The notice id, as on hotspots.notices (ntc-<p>-<16 hex>).", metavar="NOTICE"
        ),
    ],
    unit: Annotated[
        str,
        typer.Option(help="The acting unit: the notice's station, community or street code."),
    ],
    action: Annotated[str, typer.Option(help=f"One of {', '.join(ACTIONS)}.")] = "received",
    reason: Annotated[
        str | None,
        typer.Option(
            help="Why it is a false alarm (with --action false_alarm): "
            f"{', '.join(FALSE_ALARM_REASONS)}."
        ),
    ] = None,
    officer: Annotated[
        str | None,
        typer.Option(help="The acting officer's id (pseudonymised by the worker)."),
    ] = None,
    at: Annotated[
        int | None,
        typer.Option(
            help="When it happened: ISO 8601 or epoch milliseconds (default now).",
            parser=parse_time,
        ),
    ] = None,
    settings_file: SettingsFile = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka HOST:PORT (else the settings').")
    ] = None,
) -> None:
    """Acknowledge a notice on behalf of a unit: received, dispatched, arrived, resolved, or
    false_alarm with a --reason. The worker checks it against the notice and dead-letters it
    with the reason if the notice does not take it (unknown, another unit, before the notice,
    already recorded)."""
    from pipeline.kafka.sender import send_chunks
    from pipeline.patrol import encode_ack, notice_partition
    from pipeline.replay.chunks import RecordChunk

    if notice_partition(notice) is None:
        raise typer.BadParameter(
            f"{notice!r} is not a notice id; copy it from the notice (ntc-<partition>-<16 hex "
            "digits>, e.g. ntc-0-3fa2c1d4e5f60718)",
            param_hint="NOTICE",
        )
    if action not in ACTIONS:
        raise typer.BadParameter(
            f"{action!r} is not an action; use one of {', '.join(ACTIONS)}", param_hint="--action"
        )
    if (action == "false_alarm") != (reason is not None):
        raise typer.BadParameter(
            "--action false_alarm needs a --reason, and only a false alarm takes one",
            param_hint="--reason",
        )
    if reason is not None and reason not in FALSE_ALARM_REASONS:
        raise typer.BadParameter(
            f"{reason!r} is not a reason; use one of {', '.join(FALSE_ALARM_REASONS)}",
            param_hint="--reason",
        )
    at_ms = at if at is not None else int(time.time() * 1000)
    try:
        value = encode_ack(notice, unit, action, at_ms, officer, reason)
    except ValueError as exc:
        raise typer.BadParameter(f"the ack would be refused: {exc}") from exc
    settings = load_settings(settings_file)
    topic = settings.topics.acks
    chunk = RecordChunk(
        topic=np.array([topic], dtype=object),
        key=[notice],
        values=[value],
        ts=np.array([at_ms], np.int64),
        line=np.array([1], np.int64),
    )
    send_chunks([chunk], kafka_brokers(settings, bootstrap))
    typer.echo(f"{action} of {notice} by {unit} sent to {topic}")
