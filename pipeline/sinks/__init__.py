"""Sinks: how pipeline records become warehouse rows."""

from .alert_columns import alert_columns, concat_columns, distinct
from .rows import alert_rows, deadletter_rows, flag_rows, incident_rows

__all__ = [
    "alert_columns",
    "alert_rows",
    "concat_columns",
    "deadletter_rows",
    "distinct",
    "flag_rows",
    "incident_rows",
]
