"""``hotspot migrate``: apply the pending warehouse migrations, then stop.

Workers also migrate at start-up; a deployment runs this once before it starts (or upgrades)
its workers, so that several replicas do not race to apply the same new file, and so that a
failed migration stops an upgrade before any worker runs the new code.
"""

from __future__ import annotations

import typer

from .options import SettingsFile, settings_from

__all__ = ["migrate"]


def migrate(settings_file: SettingsFile = None) -> None:
    """Apply the SQL files of schemas/clickhouse not yet applied to the warehouse."""
    from pipeline.warehouse import migrate as apply_migrations
    from pipeline.warehouse import open_warehouse

    settings = settings_from(settings_file)
    with open_warehouse(settings.resolved_warehouse_url) as warehouse:
        applied = apply_migrations(warehouse)
    if applied:
        typer.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        typer.echo("the warehouse is up to date: no migration to apply")
