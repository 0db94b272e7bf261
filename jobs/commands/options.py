"""Options that several ``hotspot`` commands share, and the checks of what a person types.

Every value is checked where it is parsed, so a wrong one ends as click's one-line usage error
("Invalid value for '--since': ...") naming the option and the fix, never as a traceback from
deep inside a command. The rules, once for every command:

- a time is ISO 8601 (``2026-11-24T09:00+08:00``; UTC when no offset is given) or epoch
  **milliseconds**; a number that only makes sense as epoch seconds (before 1973 as ms) is
  refused with the same number in milliseconds as the hint, rather than read as 1970;
- a range's end is after its start;
- a file to write goes into a folder that exists; a folder to write is not an existing file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.settings import Settings, load_settings

if TYPE_CHECKING:
    from pipeline.kafka.clients import Brokers

__all__ = [
    "LOG_LEVELS",
    "SettingsFile",
    "check_range",
    "check_replay_files",
    "kafka_brokers",
    "new_file",
    "out_folder",
    "parse_log_level",
    "parse_moment",
    "parse_time",
    "positive",
    "settings_from",
]

SettingsFile = Annotated[
    Path | None, typer.Option("--settings", help="TOML settings file (else HOTSPOT_SETTINGS_FILE).")
]

#: epoch ms below this (1973-03-03) are taken for epoch seconds typed by mistake
_SMALLEST_MS = 100_000_000_000

LOG_LEVELS = ("debug", "info", "warning", "error")


def settings_from(file: Path | None, **overrides) -> Settings:
    """The settings of ``file`` (else the environment's), with the options a user gave (those
    not None) on top."""
    return load_settings(file, **{k: v for k, v in overrides.items() if v is not None})


def kafka_brokers(settings: Settings, given: str | None) -> Brokers:
    """The Kafka brokers a command talks to, with the settings' SASL and TLS options:
    ``--bootstrap`` HOST:PORT, else the settings' broker (the embedded one lives inside a
    worker, so it must be named)."""
    from pipeline.kafka.clients import Brokers

    if given:
        return Brokers.from_settings(settings, given)
    if settings.broker_url == "embedded":
        raise typer.BadParameter(
            "the settings use the embedded broker, which lives inside a worker: pass "
            "--bootstrap HOST:PORT of the running broker (the worker prints it)",
            param_hint="--bootstrap",
        )
    from pipeline.kafka import bootstrap_servers

    return Brokers.from_settings(settings, bootstrap_servers(settings.broker_url))


def parse_moment(value: str) -> datetime:
    """An aware datetime of an ISO 8601 time (UTC if it has no offset) or of epoch ms.

    >>> parse_moment("2026-11-24T09:00+08:00").isoformat()
    '2026-11-24T09:00:00+08:00'
    >>> parse_moment("1764000000000").isoformat()
    '2025-11-24T16:00:00+00:00'
    """
    text = value.strip()
    if text.lstrip("-").isdigit():
        ms = int(text)
        if 0 < abs(ms) < _SMALLEST_MS:
            raise typer.BadParameter(
                f"{value} looks like epoch seconds; times are epoch milliseconds "
                f"({ms * 1000}) or ISO 8601 (2026-11-24T09:00+08:00)"
            )
        try:
            return datetime.fromtimestamp(ms / 1000, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise typer.BadParameter(f"{value} is out of range as epoch milliseconds") from exc
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a time; use ISO 8601 (2026-11-24T09:00+08:00) or epoch ms"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_time(value: str | None) -> int | None:
    """Epoch milliseconds of :func:`parse_moment` (None stays None).

    >>> parse_time("2026-11-24T01:00")
    1795482000000
    """
    if value is None:
        return None
    return round(parse_moment(value).timestamp() * 1000)


def check_range(since_ms: int, until_ms: int, names: str = "--since/--until") -> None:
    """Refuse an empty or reversed range: it can only ever select nothing."""
    if until_ms <= since_ms:
        first, _, last = names.partition("/")
        raise typer.BadParameter(
            f"{last} ({_iso(until_ms)}) must be after {first} ({_iso(since_ms)}); "
            "the range is empty",
            param_hint=f"{first}/{last}",
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def new_file(value: str | Path | None) -> Path | None:
    """A file to write: its folder must exist and it must not be a folder."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; name a file to write")
    folder = path.parent
    if not folder.is_dir():
        raise typer.BadParameter(
            f"folder {folder} does not exist; create it (mkdir -p {folder}) or write elsewhere"
        )
    return path


def out_folder(value: str | Path) -> Path:
    """A folder to write into (created if missing): must not be an existing file."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{path} is a file, not a folder; name a folder to write into")
    return path


def parse_log_level(value: str) -> str:
    """One of :data:`LOG_LEVELS`, any case."""
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}"
        )
    return level


def positive(value: str) -> float:
    """A number above 0 (a duration, a scale)."""
    try:
        number = float(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a number") from exc
    if not number > 0:  # also refuses NaN
        raise typer.BadParameter(f"{value} must be above 0")
    return number


def check_replay_files(files: list[Path]) -> None:
    """Refuse, before anything is sent or stored, a file that holds no replay record (missing,
    empty, or not the format its name claims)."""
    from pipeline.backfill.files import PARQUET_SUFFIXES
    from pipeline.replay import check_replay_file

    for path in files:
        check_replay_file(path, parquet=path.suffix.lower() in PARQUET_SUFFIXES)
