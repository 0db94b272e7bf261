"""Run a dashboard's panels against a warehouse and check what each would hand Grafana.

For every query of a panel: expand its macros for a time range (:mod:`.macros`), ask ClickHouse
for the result's columns (``DESCRIBE (query)``), run it, and check that the columns fit the
panel type: ``lat``/``lon`` (and the size, colour or weight fields) for a geomap layer, a time
column and a number for a time series, the ``xField`` for a bar chart, the reduced field for a
bar gauge, a number for a stat; field overrides must name returned columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import WarehouseError
from ..warehouse import Warehouse
from .macros import QueryContext, expand

__all__ = ["TargetResult", "preview_dashboard", "frame_problems"]

_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")


def _base_type(type_name: str) -> str:
    while match := _WRAPPER.match(type_name):
        type_name = match.group(1)
    return type_name


def _is_number(type_name: str) -> bool:
    return re.match(r"^(U?Int\d+|Float\d+|Decimal|Bool)", _base_type(type_name)) is not None


def _is_time(type_name: str) -> bool:
    return re.match(r"^(DateTime|Date)", _base_type(type_name)) is not None


def _is_text(type_name: str) -> bool:
    return re.match(r"^(String|FixedString|Enum)", _base_type(type_name)) is not None


@dataclass
class TargetResult:
    """One query of one panel: its expanded SQL, columns (name → ClickHouse type), row count."""

    dashboard: str
    panel: str
    panel_type: str
    ref: str
    sql: str
    columns: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    problems: list[str] = field(default_factory=list)


def _layer_fields(layer: dict[str, Any]) -> list[str]:
    style = layer.get("config", {})
    dims = [
        style.get("style", {}).get("size", {}),
        style.get("style", {}).get("color", {}),
        style.get("weight", {}),
    ]
    location = layer.get("location", {})
    return [
        location.get("latitude", "lat"),
        location.get("longitude", "lon"),
        *(d["field"] for d in dims if d.get("field")),
    ]


def frame_problems(panel: dict[str, Any], ref: str, columns: dict[str, str]) -> list[str]:
    """What is missing from ``columns`` (name → type) for query ``ref`` of ``panel``."""
    kind, problems = panel["type"], []
    numbers = [c for c, t in columns.items() if _is_number(t)]
    if not columns:
        return ["the query returns no columns"]
    if kind == "geomap":
        for layer in panel["options"]["layers"]:
            if layer.get("filterData", {}).get("options") != ref:
                continue
            for name in _layer_fields(layer):
                if name not in columns or not _is_number(columns[name]):
                    problems.append(f"layer {layer['name']!r} needs a numeric column {name!r}")
    elif kind == "timeseries":
        if not any(_is_time(t) for t in columns.values()):
            problems.append("a time series needs a DateTime column")
        if not numbers:
            problems.append("a time series needs a numeric column")
    elif kind == "barchart":
        x = panel["options"].get("xField")
        if x not in columns:
            problems.append(f"the bar chart's xField {x!r} is not a column")
        if not numbers:
            problems.append("a bar chart needs a numeric column")
    elif kind == "bargauge":
        pattern = panel["options"]["reduceOptions"].get("fields", "").strip("/")
        if not any(re.fullmatch(pattern, c) for c in numbers):
            problems.append(f"no numeric column matches the bar gauge's field /{pattern}/")
        if not any(_is_text(t) for t in columns.values()):
            problems.append("a bar gauge needs a text column to name its bars")
    elif kind == "stat" and not numbers:
        problems.append("a stat needs a numeric column")
    if panel["targets"][0]["format"] == 1 or kind != "timeseries":
        for override in panel["fieldConfig"]["overrides"]:
            name = override["matcher"]["options"]
            if override["matcher"]["id"] == "byName" and name not in columns:
                problems.append(f"field override names {name!r}, which is not a column")
    return problems


def preview_dashboard(
    warehouse: Warehouse, dashboard: dict[str, Any], ctx: QueryContext
) -> list[TargetResult]:
    """Every query of every panel of ``dashboard`` (Grafana JSON) run for ``ctx``.

    Errors from ClickHouse are reported as problems of their query, not raised.
    """
    results = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            if "rawSql" not in target:  # PromQL: checked against pipeline/metrics.py instead
                continue
            result = TargetResult(
                dashboard["uid"],
                panel["title"],
                panel["type"],
                target["refId"],
                expand(target["rawSql"], ctx),
            )
            try:
                described = warehouse.query(f"DESCRIBE ({result.sql})")
                result.columns = {row[0]: row[1] for row in described}
                data = warehouse.query_columns(result.sql)
                result.rows = len(next(iter(data.values()), []))
            except WarehouseError as exc:  # the panel's problem, reported with the others
                result.problems.append(f"ClickHouse: {str(exc).splitlines()[0][:500]}")
            else:
                result.problems += frame_problems(panel, target["refId"], result.columns)
            results.append(result)
    return results
