"""``hotspot top`` (open flags, refreshing) and ``hotspot map --out FILE.png``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.settings import load_settings

from .console import stdout_console
from .options import SettingsFile, check_range, new_file, parse_time

if TYPE_CHECKING:
    from pipeline.kafka.clients import Brokers

__all__ = ["top", "map_command"]


def top(
    settings_file: SettingsFile = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="Read the flags topic on this Kafka HOST:PORT instead of the warehouse: works "
            "next to an embedded worker, which holds the chDB directory."
        ),
    ] = None,
    refresh: Annotated[float, typer.Option(help="Seconds between refreshes.", min=0.2)] = 2.0,
    once: Annotated[bool, typer.Option(help="Print the table once and exit.")] = False,
    limit: Annotated[int, typer.Option(help="Most flags shown.", min=1)] = 30,
) -> None:
    """The open hotspot flags: place, units, station, score, counts by feed, age, and where
    each one's notice stands (waiting and its age, reminded, escalated; or its latest action and
    receipt time). Ctrl-C ends.

    Reads the warehouse (a ClickHouse server, or a chDB directory no worker holds), or with
    --bootstrap the flags topic.
    """
    from rich.live import Live

    from pipeline.report import flags_table

    from ..runtime import load_admin_registry

    settings = load_settings(settings_file)
    registry = load_admin_registry(settings) if settings.resolved_registry_path.exists() else None
    if bootstrap:
        from pipeline.kafka.clients import Brokers

        brokers = Brokers.from_settings(settings, bootstrap)  # with its SASL and TLS options
        topics = settings.topics
        _top_from_topic(brokers, topics.flags, topics.notices, registry, refresh, once, limit)
        return
    from pipeline.report import open_flags

    from .warehouse import open_existing_warehouse

    with open_existing_warehouse(settings) as warehouse:

        def render():
            flags, clock = open_flags(warehouse, limit)
            return flags_table(flags, registry, clock)

        if once:
            stdout_console().print(render())
            return
        with Live(render(), refresh_per_second=4, screen=False, console=stdout_console()) as live:
            try:
                while True:
                    time.sleep(refresh)
                    live.update(render())
            except KeyboardInterrupt:
                pass


def _top_from_topic(
    bootstrap: Brokers, topic: str, notices: str, registry, refresh: float, once: bool, limit: int
) -> None:
    import asyncio
    import logging

    from rich.live import Live

    from pipeline.report import flags_table
    from pipeline.report.flag_feed import FlagFeed

    def table(feed: FlagFeed):
        flags, clock = feed.open_flags(limit)
        return flags_table(flags, registry, clock, title=f"Open hotspot flags on {topic}")

    async def run() -> None:
        async with FlagFeed(bootstrap, topic, notices) as feed:
            while not await feed.poll():  # read what is there before showing anything
                pass
            if once:
                stdout_console().print(table(feed))
                return
            with Live(
                table(feed), refresh_per_second=4, screen=False, console=stdout_console()
            ) as live:
                while True:
                    await feed.poll(timeout_ms=int(refresh * 1000))
                    live.update(table(feed))

    # aiokafka logs each failed connection as an ERROR line before the feed's own one-line
    # "cannot reach Kafka" error says the same with what to do
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


def map_command(
    out: Annotated[
        Path, typer.Option(help="PNG file to write; its folder must exist.", parser=new_file)
    ],
    since: Annotated[
        int | None,
        typer.Option(
            help="First event time, ISO 8601 or epoch ms (default: 24 h before --until).",
            parser=parse_time,
        ),
    ] = None,
    until: Annotated[
        int | None,
        typer.Option(
            help="End event time, ISO 8601 or epoch ms (default: after the newest alert).",
            parser=parse_time,
        ),
    ] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Draw alerts as a heat layer with the flags and admin boundaries into a PNG."""
    from pipeline.report import counted, draw_map

    from ..runtime import load_admin_registry
    from .warehouse import open_existing_warehouse

    if since is not None and until is not None:
        check_range(since, until)
    settings = load_settings(settings_file)
    registry = load_admin_registry(settings)
    with open_existing_warehouse(settings) as warehouse:
        newest = warehouse.query(
            f"SELECT toUnixTimestamp64Milli(max(event_time)), count() "
            f"FROM {warehouse.database}.alerts"
        )[0]
        end = (
            until
            if until is not None
            else (int(newest[0]) + 1 if newest[1] else int(time.time() * 1000))
        )
        start = since if since is not None else end - 24 * 3_600_000
        check_range(start, end)
        alerts, flags = draw_map(warehouse, registry, start, end, out)
    typer.echo(f"{out}: {counted(alerts, 'alert')}, {counted(flags, 'hotspot flag')}")
