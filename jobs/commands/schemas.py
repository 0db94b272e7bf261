"""``hotspot schemas``: the JSON Schemas of every wire format, written or checked."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["schemas"]


def schemas(
    check: Annotated[bool, typer.Option(help="Fail if the committed files are stale.")] = False,
) -> None:
    """Write the JSON Schemas of every wire format into schemas/wire/."""
    from pipeline.jsonschemas import SCHEMA_DIR, stale_schemas, write_schemas

    if check:
        stale = stale_schemas()
        if stale:
            typer.echo(f"stale schemas in {SCHEMA_DIR}: {', '.join(stale)}; run `hotspot schemas`")
            raise typer.Exit(1)
        typer.echo("schemas are current")
        return
    for path in write_schemas():
        typer.echo(str(path))
