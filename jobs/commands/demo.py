"""``hotspot demo``: the whole pipeline embedded, on a simulated city (see :mod:`jobs.demo`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from .options import out_folder, positive

__all__ = ["demo"]


def demo(
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its data.", parser=out_folder)
    ] = Path("var/demo"),
    hours: Annotated[
        float, typer.Option(help="Simulated hours of city life.", parser=positive)
    ] = 3.0,
    scale: Annotated[
        float, typer.Option(help="Volume relative to a mid-size city.", parser=positive)
    ] = 0.5,
    seed: int = 7,
) -> None:
    """Embedded broker + warehouse, a simulated city, the worker; then what it found."""
    from ..demo import run_demo

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(message)s")
    run_demo(data_dir, hours=hours, scale=scale, seed=seed)
