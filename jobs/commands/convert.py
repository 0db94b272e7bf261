"""``hotspot to-parquet``: a JSON Lines replay file as Parquet, for replay and backfill."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .options import check_replay_files, new_file

__all__ = ["to_parquet"]


def to_parquet(
    source: Annotated[
        Path, typer.Argument(help="JSON Lines replay file.", exists=True, dir_okay=False)
    ],
    target: Annotated[
        Path, typer.Argument(help="Parquet file to write; its folder must exist.", parser=new_file)
    ],
    typed: Annotated[
        bool,
        typer.Option(
            help="Also store each value decoded, as typed columns that a backfill reads instead "
            "of decoding the JSON (faster; the topic, key, value and ts columns stay)."
        ),
    ] = False,
) -> None:
    """Write a JSON Lines replay file as Parquet with the same columns."""
    from pipeline.replay import BadLine, jsonl_to_parquet  # pyarrow: only for this command

    check_replay_files([source])
    bad_lines: list[BadLine] = []
    rows = jsonl_to_parquet(source, target, bad_lines, typed=typed)
    console = Console(stderr=True)
    for bad in bad_lines:
        console.print(
            f"{source}:{bad.line_number}: {bad.reason}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    typer.echo(f"wrote {rows:,} rows to {target}; {len(bad_lines)} broken lines")
