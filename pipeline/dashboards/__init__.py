"""Grafana dashboards as code: panels and their SQL, the macro expander, build and push."""

from .builder import all_dashboards, generated_files, stale_files, write_generated
from .macros import ALL, AllValues, QueryContext, expand

__all__ = [
    "ALL",
    "AllValues",
    "QueryContext",
    "expand",
    "all_dashboards",
    "generated_files",
    "stale_files",
    "write_generated",
]
