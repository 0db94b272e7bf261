"""A PNG a person can read at a glance: where alerts were (heat), the flags, the admin units.

Alerts of a time range are counted in cells of about 250 m (aggregated in the warehouse) and
drawn on a log colour scale over the district, street and community boundaries of the
registry. Flags open at some time in the range are circles of their radius (latest version):
red and labelled with their community's name (as ``hotspot top`` shows it), score and
recurrence interval while open, grey once closed. Labels are placed where they hide nothing
(:mod:`.labels`) and the legend sits below the map, so nothing on the map is covered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from ..geo.admin_units import AdminRegistry  # noqa: E402
from ..warehouse import Warehouse  # noqa: E402
from .labels import Label, keep_inside, place_labels  # noqa: E402
from .top import recurrence  # noqa: E402

__all__ = ["MapFigure", "counted", "draw_map", "map_figure"]

#: most flags labelled, open ones first, strongest first: more would hide the map
_MAX_LABELS = 12
#: pixels around a flag's centre that no label may cover
_CENTRE_PX = 4.0

_CELL_M = 250.0
_M_PER_DEG = 111_195.0
#: registry level, line width, colour, legend label
_LEVELS = (
    ("districts", 1.8, "#222222", "district"),
    ("streets", 0.9, "#555555", "street"),
    ("communities", 0.35, "#999999", "community"),
)


def _range_sql(column: str, since_ms: int, until_ms: int) -> str:
    return (
        f"{column} >= fromUnixTimestamp64Milli(toInt64({int(since_ms)}), 'UTC') AND "
        f"{column} < fromUnixTimestamp64Milli(toInt64({int(until_ms)}), 'UTC')"
    )


def _heat(warehouse: Warehouse, since_ms: int, until_ms: int, dlat: float, dlon: float):
    db = warehouse.database
    cols = warehouse.query_columns(
        f"SELECT toInt64(floor(lat / {dlat})) AS i, toInt64(floor(lon / {dlon})) AS j, "
        f"count() AS n FROM {db}.alerts FINAL WHERE {_range_sql('event_time', since_ms, until_ms)}"
        f" GROUP BY i, j"
    )
    return (
        np.array(cols["i"], np.int64),
        np.array(cols["j"], np.int64),
        np.array(cols["n"], np.float64),
    )


def _flags(warehouse: Warehouse, since_ms: int, until_ms: int) -> dict:
    db = warehouse.database
    # the latest version of every flag that was open at some time in the range
    return warehouse.query_columns(
        f"SELECT lat AS y, lon AS x, radius_m AS r, score AS s, status AS st, "
        f"community_code AS community, recurrence_days AS every FROM {db}.flags FINAL "
        f"WHERE opened_time < fromUnixTimestamp64Milli(toInt64({int(until_ms)}), 'UTC') AND "
        f"boundary_time >= fromUnixTimestamp64Milli(toInt64({int(since_ms)}), 'UTC') "
        f"ORDER BY status = 'close', score DESC, flag_id"
    )


def _boundaries(ax, registry: AdminRegistry) -> list:
    for level, width, colour, _ in reversed(_LEVELS):
        for geometry in getattr(registry, level).geometry:
            for polygon in getattr(geometry, "geoms", [geometry]):
                x, y = polygon.exterior.xy
                ax.plot(x, y, color=colour, linewidth=width, zorder=2)
    districts = registry.districts
    names = []
    for name, geometry in zip(districts.names.tolist(), districts.geometry, strict=True):
        point = geometry.representative_point()
        names.append(
            ax.text(
                point.x,
                point.y,
                name,
                fontsize=11,
                weight="bold",
                color="#1a1a1a",
                ha="center",
                va="center",
                alpha=0.55,
                zorder=3,
            )
        )
    return names


def counted(n: int, noun: str) -> str:
    """``1 hotspot flag``, ``2 hotspot flags``, ``1,234 alerts``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass
class MapFigure:
    """A drawn map before it is saved: the figure, its axes and its labels (tests measure
    them), what it shows, and how many flag labels fit nowhere."""

    fig: object
    ax: object
    labels: list
    district_names: list
    alerts: int
    flags: int
    unlabelled: int


def draw_map(
    warehouse: Warehouse,
    registry: AdminRegistry,
    since_ms: int,
    until_ms: int,
    out: Path,
    *,
    title: str = "",
) -> tuple[int, int]:
    """Draw the map of ``[since_ms, until_ms)`` to ``out``; returns (alerts, flags) drawn."""
    drawn = map_figure(warehouse, registry, since_ms, until_ms, title=title)
    drawn.fig.savefig(out, bbox_inches="tight")
    plt.close(drawn.fig)
    return drawn.alerts, drawn.flags


def map_figure(
    warehouse: Warehouse,
    registry: AdminRegistry,
    since_ms: int,
    until_ms: int,
    *,
    title: str = "",
) -> MapFigure:
    """The map of ``[since_ms, until_ms)``, laid out and labelled (close ``.fig`` after)."""
    min_lat, min_lon, max_lat, max_lon = registry.bbox
    cos_lat = math.cos(math.radians((min_lat + max_lat) / 2))
    dlat, dlon = _CELL_M / _M_PER_DEG, _CELL_M / (_M_PER_DEG * cos_lat)
    i, j, n = _heat(warehouse, since_ms, until_ms, dlat, dlon)
    flags = _flags(warehouse, since_ms, until_ms)

    aspect = (max_lat - min_lat) / ((max_lon - min_lon) * cos_lat)
    fig, ax = plt.subplots(figsize=(12, 10 * aspect + 1.6), dpi=110)
    ax.set_facecolor("#f4f4f0")
    district_names = _boundaries(ax, registry)
    if len(n):
        i0, j0 = int(i.min()), int(j.min())
        grid = np.full((int(i.max()) - i0 + 1, int(j.max()) - j0 + 1), np.nan)
        grid[i - i0, j - j0] = n
        extent = (j0 * dlon, (j.max() + 1) * dlon, i0 * dlat, (i.max() + 1) * dlat)
        heat = ax.imshow(
            grid,
            origin="lower",
            extent=extent,
            cmap="YlOrRd",
            alpha=0.85,
            norm=LogNorm(vmin=1, vmax=max(n.max(), 2)),
            zorder=1,
            interpolation="nearest",
            aspect="auto",
        )
        fig.colorbar(heat, ax=ax, shrink=0.6, pad=0.02, label="alerts per 250 m cell (log)")
    names = dict(
        zip(registry.communities.codes.tolist(), registry.communities.names.tolist(), strict=True)
    )
    labels = []
    rows = zip(
        flags["y"], flags["x"], flags["r"], flags["s"], flags["st"], flags["community"],
        flags["every"], strict=True,
    )  # fmt: skip
    for lat, lon, radius, score, status, community, every in rows:
        is_open = status != "close"
        colour = "#d7191c" if is_open else "#7f7f7f"
        ax.add_patch(
            Circle(
                (lon, lat),
                radius / (_M_PER_DEG * cos_lat),
                fill=False,
                edgecolor=colour,
                linewidth=2.4 if is_open else 1.2,
                zorder=4,
            )
        )
        place = names.get(community) or community or f"{lat:.4f}, {lon:.4f}"
        text = f"{place}  {score:.0f}, every {recurrence(every)}" if is_open else place
        labels.append(Label(lon, lat, text, colour))
    ax.set_xlim(min_lon, max_lon)
    ax.set_ylim(min_lat, max_lat)
    ax.set_aspect(1 / cos_lat)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    _legend(ax)
    span = f"{_utc(since_ms)} to {_utc(until_ms)} UTC"
    total = int(n.sum())
    heading = title or f"{counted(total, 'alert')} and {counted(len(flags['y']), 'hotspot flag')}"
    ax.set_title(f"{heading}, {span}" if not title else heading, fontsize=13)
    fig.canvas.draw()  # final layout (colour bar, aspect): labels are placed in pixels
    # district names clear of the flags' circles and of each other
    keep_clear = [circle.get_window_extent(fig.canvas.get_renderer()) for circle in ax.patches]
    names_clear = list(keep_clear)
    for text in district_names:  # a handful of districts
        names_clear.append(keep_inside(ax, text, names_clear))
    keep_clear = names_clear[len(keep_clear) :]
    centres = ax.transData.transform(np.column_stack([flags["x"], flags["y"]]).reshape(-1, 2))
    keep_clear += [
        Bbox.from_bounds(x - _CENTRE_PX, y - _CENTRE_PX, 2 * _CENTRE_PX, 2 * _CENTRE_PX)
        for x, y in centres.tolist()
    ]
    placed, unplaced = place_labels(
        ax, labels[:_MAX_LABELS], keep_clear, fontsize=9, weight="bold", zorder=5
    )
    unlabelled = unplaced + max(len(labels) - _MAX_LABELS, 0)
    if unlabelled:  # said in the title: the map itself keeps clear
        ax.set_title(
            f"{ax.get_title()}\n{counted(unlabelled, 'flag')} without a label, to keep the map "
            "readable (open and strongest labelled first; `hotspot top` lists the open ones)",
            fontsize=13,
        )
    return MapFigure(fig, ax, placed, district_names, total, len(flags["y"]), unlabelled)


def _legend(ax) -> None:
    """The legend below the map, in one row: it covers nothing."""
    legend = [
        Line2D(
            [],
            [],
            color="#d7191c",
            marker="o",
            linestyle="",
            markersize=12,
            markerfacecolor="none",
            markeredgewidth=2.4,
            label="open flag (community, score, recurrence interval)",
        ),
        Line2D(
            [],
            [],
            color="#7f7f7f",
            marker="o",
            linestyle="",
            markersize=12,
            markerfacecolor="none",
            label="closed flag",
        ),
        *(Line2D([], [], color=c, linewidth=w, label=label) for _, w, c, label in _LEVELS),
    ]
    ax.legend(
        handles=legend,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=len(legend),
        fontsize=9,
        frameon=False,
    )


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
