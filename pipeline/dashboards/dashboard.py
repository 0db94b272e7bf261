"""A dashboard: its panels laid out on Grafana's 24-column grid, and its template variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .panels import DATASOURCE, Panel

__all__ = ["Dashboard", "district_variable", "source_variable", "GRID_WIDTH"]

GRID_WIDTH = 24
_SCHEMA_VERSION = 39


@dataclass(frozen=True)
class Dashboard:
    """``uid`` is stable: pushing again updates the dashboard instead of adding a copy."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[dict[str, Any], ...] = ()
    time_from: str = "now-6h"
    refresh: str = "1m"

    @property
    def file_name(self) -> str:
        return f"{self.uid}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["hotspot"],
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": _SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "templating": {"list": list(self.variables)},
            "annotations": {"list": []},
            "panels": _laid_out(self.panels),
        }


def _laid_out(panels: tuple[Panel, ...]) -> list[dict[str, Any]]:
    """Left to right, wrapping at the grid's width; a row is as tall as its tallest panel."""
    out, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        out.append(panel.to_json(panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


def district_variable() -> dict[str, Any]:
    """``$district``: district codes (labelled by name) from the warehouse's admin units."""
    sql = (
        "SELECT code, any(name) FROM admin_units WHERE level = 'district' "
        "GROUP BY code ORDER BY code"
    )
    return {
        "name": "district",
        "label": "District",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"rawSql": sql, "editorType": "sql", "format": 1},
        "definition": sql,
        "refresh": 1,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def source_variable() -> dict[str, Any]:
    """``$source``: the four feeds."""
    from ..alerts import SOURCES

    options = [{"text": s, "value": s, "selected": False} for s in SOURCES]
    return {
        "name": "source",
        "label": "Feed",
        "type": "custom",
        "query": ",".join(SOURCES),
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [{"text": "All", "value": "$__all", "selected": True}, *options],
    }
