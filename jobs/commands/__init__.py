"""The commands of the ``hotspot`` CLI, one module per command (or group of commands), all
registered here and nowhere else."""

from __future__ import annotations

import typer

from .ack import ack
from .backfill import backfill
from .baseline import baseline_app
from .convert import to_parquet
from .dashboards import app as dashboards_app
from .deadletter import deadletter_app
from .demo import demo
from .evaluate import evaluate
from .export import export
from .migrate import migrate
from .notices_report import report_app
from .notify import notify
from .ratings import ratings
from .registry import registry_app
from .replay import replay
from .report import map_command, top
from .schemas import schemas
from .simulate import simulate
from .trends import trends
from .worker import worker

__all__ = ["register"]

#: command name -> function; typer builds each command's options from its signature
COMMANDS = {
    "worker": worker,
    "demo": demo,
    "simulate": simulate,
    "replay": replay,
    "to-parquet": to_parquet,
    "backfill": backfill,
    "evaluate": evaluate,
    "export": export,
    "top": top,
    "map": map_command,
    "ratings": ratings,
    "trends": trends,
    "schemas": schemas,
    "migrate": migrate,
    "ack": ack,
    "notify": notify,
}
#: group name -> its sub-app
GROUPS = {
    "baseline": baseline_app,
    "dashboards": dashboards_app,
    "deadletter": deadletter_app,
    "registry": registry_app,
    "report": report_app,
}


def register(app: typer.Typer) -> None:
    """Add every command and command group to the ``hotspot`` app."""
    for name, command in COMMANDS.items():
        app.command(name)(command)
    for name, group in GROUPS.items():
        app.add_typer(group, name=name)
