"""Grafana panels as small Python values that render to the dashboard JSON model.

Panels read the project's ClickHouse data source through SQL (``rawSql``) with the plugin's
macros (see :mod:`pipeline.dashboards.macros`); ``format`` 0 asks the plugin for a time series
(long rows ``time, label, value`` become one series per label), 1 for a table. Where the data
is a worker metric (``pipeline/metrics.py``), a panel reads Prometheus with PromQL instead
(:class:`PromQuery`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "DATASOURCE",
    "PROMETHEUS",
    "Query",
    "PromQuery",
    "Panel",
    "Threshold",
    "geomap",
    "markers_layer",
    "heatmap_layer",
    "timeseries",
    "table",
    "bargauge",
    "barchart",
    "stat",
    "by_name",
]

#: The data source every panel uses; provisioning and ``dashboards push`` create it with this uid.
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "hotspot-clickhouse"}
#: The Prometheus that scrapes the workers (provisioning creates it; infra/compose.yaml runs it).
PROMETHEUS = {"type": "prometheus", "uid": "hotspot-prometheus"}


@dataclass(frozen=True)
class Query:
    """One SQL query of a panel. ``time_series`` selects the plugin's time-series format."""

    sql: str
    ref: str = "A"
    time_series: bool = False
    datasource: ClassVar[dict[str, str]] = DATASOURCE

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref,
            "datasource": DATASOURCE,
            "editorType": "sql",
            "queryType": "timeSeries" if self.time_series else "table",
            "format": 0 if self.time_series else 1,
            "rawSql": _tidy(self.sql),
        }


@dataclass(frozen=True)
class PromQuery:
    """One PromQL query of a panel; ``legend`` names each series (``{{label}}``)."""

    expr: str
    legend: str = ""
    ref: str = "A"
    time_series: bool = True
    datasource: ClassVar[dict[str, str]] = PROMETHEUS

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref,
            "datasource": PROMETHEUS,
            "editorMode": "code",
            "expr": self.expr,
            "legendFormat": self.legend or "__auto",
            "range": True,
        }


@dataclass(frozen=True)
class Threshold:
    """A colour from ``value`` upwards (``None``: the base colour)."""

    colour: str
    value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"color": self.colour, "value": self.value}


@dataclass(frozen=True)
class Panel:
    """A panel: its Grafana ``type``, queries, size and the type's options."""

    kind: str
    title: str
    queries: tuple[Query | PromQuery, ...]
    width: int = 12
    height: int = 8
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": self.queries[0].datasource,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [q.to_json() for q in self.queries],
            "fieldConfig": {"defaults": self.defaults, "overrides": list(self.overrides)},
            "options": self.options,
        }


#: a legend below the panel, as a list (Grafana's schema requires ``calcs``, empty: none)
_LEGEND = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}


def _tidy(sql: str) -> str:
    """The SQL as written in the builder, without the common indentation and blank edges."""
    lines = sql.strip("\n").splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:].rstrip() for line in lines)


def _thresholds(steps: tuple[Threshold, ...]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [s.to_json() for s in steps]}


def by_name(name: str, **properties: Any) -> dict[str, Any]:
    """A field override for the column ``name``."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


# --- geomap -------------------------------------------------------------------------------------


def markers_layer(
    name: str,
    ref: str,
    *,
    size: str | None = None,
    colour: str | None = None,
    thresholds: tuple[Threshold, ...] = (),
) -> dict[str, Any]:
    """Markers at each row's ``lat``/``lon``, sized and coloured by optional columns."""
    style: dict[str, Any] = {
        "size": {"fixed": 6, "min": 4, "max": 20},
        "opacity": 0.8,
        "color": {"fixed": "red"},
    }
    if size:
        style["size"]["field"] = size
    if colour:
        style["color"] = {"field": colour, "fixed": "red"}
    layer = {
        "type": "markers",
        "name": name,
        "config": {"showLegend": True, "style": style},
        "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
        "filterData": {"id": "byRefId", "options": ref},
        "tooltip": True,
    }
    if thresholds:
        layer["config"]["style"]["color"]["fixed"] = thresholds[0].colour
    return layer


def heatmap_layer(name: str, ref: str, *, weight: str | None = None) -> dict[str, Any]:
    """A heat map of each row's ``lat``/``lon``, weighted by an optional column."""
    weight_dim: dict[str, Any] = {"fixed": 1, "min": 0, "max": 1}
    if weight:
        weight_dim["field"] = weight
    return {
        "type": "heatmap",
        "name": name,
        "config": {"blur": 15, "radius": 6, "weight": weight_dim},
        "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
        "filterData": {"id": "byRefId", "options": ref},
        "tooltip": True,
    }


def geomap(
    title: str,
    queries: tuple[Query, ...],
    layers: list[dict[str, Any]],
    *,
    thresholds: tuple[Threshold, ...] = (Threshold("green"),),
    **size: Any,
) -> Panel:
    """A map fitted to its data; every layer reads ``lat`` and ``lon`` columns."""
    return Panel(
        "geomap",
        title,
        queries,
        width=size.get("width", 12),
        height=size.get("height", 12),
        description=size.get("description", ""),
        defaults={"color": {"mode": "thresholds"}, "thresholds": _thresholds(thresholds)},
        options={
            "view": {"id": "fit", "allLayers": True, "zoom": 12},
            "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
            "basemap": {"type": "default", "name": "Basemap"},
            "layers": layers,
            "tooltip": {"mode": "details"},
        },
    )


# --- series, tables, gauges ---------------------------------------------------------------------


def timeseries(
    title: str,
    query: Query | PromQuery,
    *,
    unit: str = "short",
    bars: bool = False,
    target: float | None = None,
    overrides: tuple[dict, ...] = (),
    **size: Any,
) -> Panel:
    """Lines (or stacked bars) over time; ``target`` draws a red threshold line at that value."""
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "stacking": {"mode": "normal" if bars else "none", "group": "A"},
    }
    steps = (Threshold("green"),)
    if target is not None:
        custom["thresholdsStyle"] = {"mode": "line"}
        steps = (Threshold("green"), Threshold("red", target))
    return Panel(
        "timeseries",
        title,
        (query,),
        width=size.get("width", 12),
        height=size.get("height", 8),
        description=size.get("description", ""),
        defaults={
            "unit": unit,
            "custom": custom,
            "thresholds": _thresholds(steps),
            "color": {"mode": "palette-classic"},
        },
        overrides=overrides,
        options={
            "legend": _LEGEND,
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def table(
    title: str,
    query: Query | PromQuery,
    *,
    overrides: tuple[dict, ...] = (),
    sort: str | None = None,
    **size: Any,
) -> Panel:
    return Panel(
        "table",
        title,
        (query,),
        width=size.get("width", 12),
        height=size.get("height", 8),
        description=size.get("description", ""),
        defaults={
            "custom": {"align": "auto", "filterable": True, "inspect": False},
            "thresholds": _thresholds((Threshold("green"),)),
        },
        overrides=overrides,
        options={
            "frameIndex": 0,
            "showHeader": True,
            "cellHeight": "sm",
            "sortBy": [{"displayName": sort, "desc": True}] if sort else [],
        },
    )


def bargauge(
    title: str,
    query: Query | PromQuery,
    *,
    value: str,
    unit: str,
    steps: tuple[Threshold, ...],
    minimum: float | None = None,
    maximum: float | None = None,
    **size: Any,
) -> Panel:
    """One bar per row of the column ``value``, coloured by thresholds (e.g. red below a
    target) and named by the row's text columns."""
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": _thresholds(steps),
        "color": {"mode": "thresholds"},
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return Panel(
        "bargauge",
        title,
        (query,),
        width=size.get("width", 12),
        height=size.get("height", 8),
        description=size.get("description", ""),
        defaults=defaults,
        options={
            "orientation": "horizontal",
            "displayMode": "basic",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": f"/^{value}$/", "values": True},
            # Grafana's defaults, which its schema requires
            "valueMode": "color",
            "namePlacement": "auto",
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
            "maxVizHeight": 300,
            "legend": {**_LEGEND, "showLegend": False},
        },
    )


def barchart(
    title: str,
    query: Query | PromQuery,
    *,
    x: str,
    unit: str = "short",
    overrides: tuple[dict, ...] = (),
    **size: Any,
) -> Panel:
    """Grouped bars: one group per value of the text column ``x``, one bar per number column."""
    return Panel(
        "barchart",
        title,
        (query,),
        width=size.get("width", 12),
        height=size.get("height", 8),
        description=size.get("description", ""),
        defaults={
            "unit": unit,
            "color": {"mode": "palette-classic"},
            "thresholds": _thresholds((Threshold("green"),)),
        },
        overrides=overrides,
        options={
            "xField": x,
            "orientation": "auto",
            "groupWidth": 0.7,
            "barWidth": 0.9,
            "legend": _LEGEND,
            "stacking": "none",
            "showValue": "auto",
            # Grafana's defaults, which its schema requires
            "xTickLabelRotation": 0,
            "xTickLabelMaxLength": 0,
            "tooltip": {"mode": "single", "sort": "none"},
            "fullHighlight": False,
        },
    )


def stat(
    title: str,
    query: Query | PromQuery,
    *,
    unit: str = "short",
    steps: tuple[Threshold, ...] = (Threshold("green"),),
    **size: Any,
) -> Panel:
    return Panel(
        "stat",
        title,
        (query,),
        width=size.get("width", 6),
        height=size.get("height", 4),
        description=size.get("description", ""),
        defaults={"unit": unit, "thresholds": _thresholds(steps), "color": {"mode": "thresholds"}},
        options={
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            # Grafana's defaults, which its schema requires
            "justifyMode": "auto",
            "wideLayout": True,
            "showPercentChange": False,
            "percentChangeColorMode": "standard",
            "orientation": "auto",
        },
    )
