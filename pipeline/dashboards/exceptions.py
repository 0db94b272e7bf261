"""Errors of the dashboards package, under the project's :class:`PipelineError`."""

from __future__ import annotations

from ..exceptions import ConfigurationError, PipelineError

__all__ = ["DashboardError", "MacroError", "GrafanaPushError", "GrafanaNotConfigured"]


class DashboardError(PipelineError):
    """A dashboard definition or its committed JSON is wrong."""


class MacroError(DashboardError):
    """A panel's SQL uses a macro or template variable that cannot be expanded."""


class GrafanaPushError(PipelineError):
    """Grafana refused or could not be reached; the HTTP status is kept in ``status``."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GrafanaNotConfigured(ConfigurationError):
    """``grafana.url``, ``grafana.token`` or the ClickHouse address for Grafana is missing."""
