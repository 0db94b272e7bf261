"""``hotspot export``: flags, incidents or alerts of a time range as JSON Lines or CSV.

The format is ``--format``, else the ``--out`` file's extension (``.csv``; ``.jsonl``,
``.ndjson``, ``.json``), else JSON Lines; a ``--format`` that contradicts the extension is
refused rather than writing JSON Lines into ``x.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.settings import load_settings

from .options import SettingsFile, check_range, new_file, parse_time
from .progress import format_ms

__all__ = ["export"]

#: file extension -> the format it promises
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def export(
    what: Annotated[str, typer.Argument(help="flags, incidents or alerts")],
    since: Annotated[
        int, typer.Option(help="First time (ISO 8601 or epoch ms).", parser=parse_time)
    ],
    until: Annotated[
        int, typer.Option(help="End time, excluded (ISO 8601 or epoch ms).", parser=parse_time)
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output file (else standard output); its folder must exist.", parser=new_file
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="jsonl or csv (default: from the --out extension, else jsonl)."
        ),
    ] = None,
    settings_file: SettingsFile = None,
) -> None:
    """Write warehouse rows of a time range, in a fixed order, for comparing runs."""
    from pipeline.export import EXPORTS, FORMATS, export_rows, stored_span, write_export

    from .warehouse import open_existing_warehouse

    if what not in EXPORTS:
        raise typer.BadParameter(f"{what!r}: choose one of {', '.join(EXPORTS)}", param_hint="WHAT")
    fmt = _format(fmt, out, FORMATS)
    check_range(since, until)
    settings = load_settings(settings_file)
    with open_existing_warehouse(settings) as warehouse:
        rows = export_rows(warehouse, what, since, until)
        n = write_export(rows, out if out is not None else sys.stdout, fmt)
        # an empty export is no error, but say where the rows are (a range in the wrong
        # zone or year is the usual cause)
        hint = "" if n else _where_they_are(stored_span(warehouse, what), what, EXPORTS)
    typer.echo(f"{n:,} {what} written to {out or 'standard output'}{hint}", err=True)


def _where_they_are(span: tuple[int, int, int], what: str, exports: dict) -> str:
    count, first, last = span
    if not count:
        return f"; the warehouse holds no {what} at all"
    return (
        f"; the warehouse's {what} have {exports[what][1]} from {format_ms(first)} to "
        f"{format_ms(last)} ({count:,} rows): widen --since/--until"
    )


def _format(given: str | None, out: Path | None, formats: tuple[str, ...]) -> str:
    if given is not None and given not in formats:
        raise typer.BadParameter(
            f"{given!r}: choose one of {', '.join(formats)}", param_hint="--format"
        )
    implied = _EXTENSIONS.get(out.suffix.lower()) if out is not None else None
    if given and implied and given != implied:
        raise typer.BadParameter(
            f"{given} into {out.name}, whose extension says {implied}: drop --format, or name "
            f"the file {out.with_suffix('.' + given).name}",
            param_hint="--format",
        )
    return given or implied or "jsonl"
