"""``hotspot migrate``: apply the pending warehouse migrations and the access rules, then stop.

It connects with ``warehouse_admin_url`` (else ``warehouse_url``): the migrations need DDL
rights, and with an admin URL set it then creates the roles, users and row policies of
``schemas/clickhouse/access/`` (:mod:`pipeline.warehouse.access`), so the workers can connect
as a writer without schema rights. A deployment runs this once before it starts (or upgrades)
its workers, so that several replicas do not race to apply the same new file, and so that a
failed migration stops an upgrade before any worker runs the new code. Workers still apply
pending files themselves where their user may (the embedded mode).
"""

from __future__ import annotations

import typer

from .options import SettingsFile, settings_from

__all__ = ["migrate"]


def migrate(settings_file: SettingsFile = None) -> None:
    """Apply the SQL files of schemas/clickhouse not yet applied to the warehouse, the
    retention settings' TTLs and, with warehouse_admin_url set, the users and row policies."""
    from pipeline.warehouse import migrate as apply_migrations
    from pipeline.warehouse import open_warehouse
    from pipeline.warehouse.access import apply_access

    settings = settings_from(settings_file)
    with open_warehouse(settings.resolved_admin_warehouse_url) as warehouse:
        applied = apply_migrations(warehouse, retention=settings.retention)
        plan = None
        if settings.warehouse_admin_url.get_secret_value():
            plan = apply_access(warehouse, settings)
    if applied:
        typer.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        typer.echo("the warehouse is up to date: no migration to apply")
    if plan is not None:
        districts = ", ".join(plan.districts) or "none"
        typer.echo(
            f"access: roles hotspot_writer, hotspot_reader, hotspot_district_reader; users "
            f"{', '.join(plan.users) or 'none'}; district row policies: {districts}"
        )
