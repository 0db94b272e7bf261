"""Options that several ``hotspot`` commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.settings import Settings, load_settings

__all__ = ["SettingsFile", "settings_from"]

SettingsFile = Annotated[
    Path | None, typer.Option("--settings", help="TOML settings file (else HOTSPOT_SETTINGS_FILE).")
]


def settings_from(file: Path | None, **overrides) -> Settings:
    """The settings of ``file`` (else the environment's), with the options a user gave (those
    not None) on top."""
    return load_settings(file, **{k: v for k, v in overrides.items() if v is not None})
