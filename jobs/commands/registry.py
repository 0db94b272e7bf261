"""``hotspot registry check FILE`` and ``hotspot registry grid``: a city's admin-unit registry
checked with every problem listed at once, or a regular one written to start with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .options import new_file, positive

__all__ = ["registry_app"]

registry_app = typer.Typer(help="The admin-unit registry (GeoJSON).", no_args_is_help=True)


@registry_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The registry GeoJSON to check.")],
) -> None:
    """Check a registry as the worker loads it, listing every problem at once."""
    from pipeline.geo.admin_units import load_registry
    from pipeline.geo.registry_file import read_registry

    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    read_registry(file, max_listed=None)  # every problem, not the first twenty
    registry = load_registry(file)  # and whatever indexing the units could still refuse
    s, w, n, e = registry.bbox
    company = registry.compounds.company
    managed = (
        f"compounds ({int((company != '').sum()):,} with a property-management company, "
        f"{len(set(company) - {''}):,} companies)"
    )
    counts = ", ".join(
        f"{len(getattr(registry, attr)):,} {label}"
        for attr, label in (
            ("districts", "districts"),
            ("streets", "streets"),
            ("communities", "communities"),
            ("grids", "grid cells"),
            ("compounds", managed),
            ("stations", "stations"),
        )
    )
    typer.echo(f"{file}: no problems; {counts}; extent S,W,N,E {s:.5f},{w:.5f},{n:.5f},{e:.5f}")


@registry_app.command("grid")
def grid(
    bbox: Annotated[
        str,
        typer.Option(
            help="The city's box as S,W,N,E in WGS84 degrees, e.g. 30.2,120.1,30.4,120.3.",
            metavar="S,W,N,E",
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="GeoJSON file to write; its folder must exist.", parser=new_file)
    ] = Path("registry.geojson"),
    cell_m: Annotated[
        float, typer.Option(help="Side of a grid cell, metres (50 or more).", parser=positive)
    ] = 500.0,
) -> None:
    """Write a regular four-level registry over a box (districts, streets, communities, grid
    cells, one placeholder station per street) to use until the city's own units are ready."""
    from pipeline.geo.admin_units import load_registry
    from pipeline.geo.grid_registry import grid_registry

    doc = grid_registry(_bbox(bbox), cell_m)
    registry = load_registry(doc)  # what the worker will load: refuse to write anything else
    out.write_text(json.dumps(doc, separators=(",", ":")))
    typer.echo(
        f"wrote {out}: {len(registry.districts):,} districts, {len(registry.streets):,} streets, "
        f"{len(registry.communities):,} communities, {len(registry.grids):,} grid cells of "
        f"{cell_m:g} m, {len(registry.stations):,} placeholder stations; set "
        f"HOTSPOT_REGISTRY_PATH={out}"
    )


def _bbox(value: str) -> tuple[float, float, float, float]:
    from pipeline.exceptions import RegistryError
    from pipeline.geo.grid_registry import parse_bbox

    try:
        return parse_bbox(value)
    except RegistryError as exc:
        raise typer.BadParameter(str(exc), param_hint="--bbox") from None
