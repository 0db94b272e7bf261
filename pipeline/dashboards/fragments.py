"""SQL pieces several dashboards share: unit names, the district and feed filters."""

from __future__ import annotations

import textwrap

__all__ = ["unit_names", "in_districts", "in_sources", "nested"]


def unit_names(level: str) -> str:
    """A subquery ``(code, name, lat, lon)`` of one admin level (the latest registry load)."""
    return (
        "(SELECT code, argMax(name, loaded_at) AS name, argMax(centroid_lat, loaded_at) AS lat, "
        f"argMax(centroid_lon, loaded_at) AS lon FROM admin_units WHERE level = '{level}' "
        "GROUP BY code)"
    )


def in_districts(column: str = "district_code") -> str:
    """True for the districts selected in ``$district`` (no filter at all when All)."""
    return f"$__conditionalAll({column} IN (${{district:singlequote}}), $district)"


def in_sources(column: str = "source") -> str:
    """True for the feeds selected in ``$source`` (no filter at all when All)."""
    return f"$__conditionalAll({column} IN (${{source:singlequote}}), $source)"


def nested(sql: str, depth: int = 4) -> str:
    """``(sql)`` as a subquery of a query indented by ``depth``: the subquery's lines one level
    deeper, so the SQL stays readable in Grafana's editor."""
    body = textwrap.indent(textwrap.dedent(sql).strip(), " " * (depth + 4))
    return "(\n" + body + "\n" + " " * depth + ")"
