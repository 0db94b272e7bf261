"""Every error the pipeline raises on purpose derives from :class:`PipelineError`.

Messages say what went wrong *and* what the user can do about it.
"""

from __future__ import annotations

__all__ = [
    "PipelineError",
    "ConfigurationError",
    "RegistryError",
    "BrokerError",
    "WarehouseError",
    "WarehouseUnavailable",
    "WarehouseInUse",
    "CameraInventoryError",
    "ReplayFileError",
    "EnvelopeError",
    "CheckpointError",
    "BackfillError",
]


class PipelineError(Exception):
    """Root of the project's exception tree."""


class ConfigurationError(PipelineError):
    """A setting is missing, malformed or inconsistent with another one."""


class RegistryError(PipelineError):
    """The admin-unit registry (GeoJSON) is invalid: unknown parent, duplicate code, bad polygon."""


class BrokerError(PipelineError):
    """The Kafka broker could not be started, reached or administered."""


class WarehouseError(PipelineError):
    """ClickHouse (chDB or server) rejected a statement; the original code is kept in ``code``."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class WarehouseUnavailable(WarehouseError):
    """ClickHouse cannot be reached right now; retry later (offsets are not committed)."""


class WarehouseInUse(WarehouseError):
    """Another process holds the chDB directory (chDB opens a directory in one process at a
    time, even to read it). ``pid`` and ``command`` name that process."""

    def __init__(self, message: str, *, pid: str, command: str) -> None:
        super().__init__(message)
        self.pid = pid
        self.command = command


class CameraInventoryError(PipelineError):
    """The cameras file cannot be read, or some of its rows are wrong (all of them listed)."""


class ReplayFileError(PipelineError):
    """A replay file cannot be opened or has no usable records."""


class EnvelopeError(PipelineError):
    """A record on ``alerts.normalized`` is not an envelope record this pipeline wrote (see
    ``schemas/wire/normalized.arrow.json``); it is dead-lettered and the others go on.
    ``malformed``: not an Arrow IPC stream at all (else: Arrow, but not these columns)."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


class CheckpointError(PipelineError):
    """A partition's checkpoint cannot be restored: unreadable, another layout or state format,
    or written for another partition count. ``partition`` names it; the worker reports it and
    rebuilds that partition from its input instead of crash-looping."""

    def __init__(self, partition: int, reason: str) -> None:
        super().__init__(f"partition {partition}: checkpoint not restored: {reason}")
        self.partition = partition
        self.reason = reason


class BackfillError(PipelineError):
    """A backfill's correlator process failed or died; the message says which and why."""
