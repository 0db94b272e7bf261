"""Errors of the correlation engine, under the project's root :class:`PipelineError`."""

from __future__ import annotations

from pipeline.exceptions import PipelineError

__all__ = ["CorrelationError", "InvalidBatchError", "SnapshotError"]


class CorrelationError(PipelineError):
    """Root of the correlation engine's errors."""


class InvalidBatchError(CorrelationError, ValueError):
    """A batch handed to the engine has a wrong dtype, shape or value; the message says which."""


class SnapshotError(CorrelationError):
    """A snapshot cannot be restored: corrupt, from another format version, or other params."""
