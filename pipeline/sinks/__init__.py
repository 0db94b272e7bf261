"""Sinks: how pipeline records become warehouse rows."""

from .rows import alert_rows, deadletter_rows, flag_rows, incident_rows

__all__ = ["alert_rows", "deadletter_rows", "flag_rows", "incident_rows"]
