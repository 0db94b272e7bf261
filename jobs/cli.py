"""The ``hotspot`` command line: the app, its commands (registered by :mod:`jobs.commands`),
and how an error reaches the user: one line naming what was wrong and what to do, and a
non-zero exit, never a traceback.

The one place errors become exits is :func:`main`:

- a wrong option or argument is click's usage error (exit 2), raised where the value is parsed
  (:mod:`jobs.commands.options`);
- a :class:`~pipeline.exceptions.PipelineError` (settings, registry, broker, warehouse, replay
  file) prints its message, which says what to do (exit 2);
- an :class:`OSError` (a path that cannot be read or written, a full disk) prints the system's
  message with the path (exit 1).

Anything else is a bug and keeps its traceback, without local variables (they may hold keys).
"""

from __future__ import annotations

import logging

import typer

from pipeline.exceptions import PipelineError

from .commands import register

__all__ = ["app", "main", "EXIT_FAILED", "EXIT_REFUSED"]

#: a PipelineError: the input or the settings were refused (click's usage errors exit 2 too)
EXIT_REFUSED = 2
#: the operating system refused a file operation
EXIT_FAILED = 1

app = typer.Typer(
    help="Real-time alert correlation and hotspot flags.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
register(app)


#: client libraries that log a full traceback for a failure this project reports itself, in
#: one line (clickhouse-driver: "Failed to connect" before WarehouseUnavailable)
_SELF_REPORTED = ("clickhouse_driver",)


def main() -> None:
    for name in _SELF_REPORTED:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        app()
    except PipelineError as exc:
        _fail(str(exc), EXIT_REFUSED, exc)
    except OSError as exc:
        _fail(f"{exc}; check the path and its permissions", EXIT_FAILED, exc)


def _fail(message: str, code: int, exc: BaseException) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise SystemExit(code) from exc
