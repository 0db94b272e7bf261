"""``hotspot dashboards``: build the Grafana JSON, preview panels on the warehouse, push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from .options import SettingsFile, check_range, parse_moment

app = typer.Typer(help="Grafana dashboards: build, preview, push.", no_args_is_help=True)


@app.command("build")
def build(
    check: Annotated[bool, typer.Option(help="Fail if the committed files are stale.")] = False,
) -> None:
    """Write dashboards/*.json and infra/grafana/provisioning/ from the Python definitions."""
    from pipeline.dashboards import stale_files, write_generated

    if check:
        stale = stale_files()
        if stale:
            typer.echo("stale: " + ", ".join(map(str, stale)) + "; run `hotspot dashboards build`")
            raise typer.Exit(1)
        typer.echo("dashboards are current")
        return
    for path in write_generated():
        typer.echo(str(path))


@app.command("push")
def push(settings_file: SettingsFile = None) -> None:
    """Create or update the ClickHouse data source and every dashboard on Grafana."""
    from pipeline.dashboards.push import push_dashboards
    from pipeline.settings import load_settings

    settings = load_settings(settings_file)
    report = push_dashboards(settings)
    typer.echo(f"data source {report.datasource}; folder {report.folder}")
    for uid, url in report.dashboards.items():
        typer.echo(f"  {uid}: {settings.grafana.url.rstrip('/')}{url}")


@app.command("preview")
def preview(
    settings_file: SettingsFile = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            help="ISO 8601 or epoch ms; default 6 h before --to.",
            parser=parse_moment,
            metavar="TIME",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to", help="ISO 8601 or epoch ms; default now.", parser=parse_moment, metavar="TIME"
        ),
    ] = None,
    dashboard: Annotated[str | None, typer.Option(help="Only this uid.")] = None,
    district: Annotated[str | None, typer.Option(help="A district code; default All.")] = None,
    interval_s: Annotated[int, typer.Option(help="Grafana's interval, seconds.", min=1)] = 60,
) -> None:
    """Run every panel's SQL on the warehouse for a time range: rows, columns, problems."""
    from pipeline.dashboards import ALL, QueryContext, all_dashboards
    from pipeline.dashboards.preview import preview_dashboard
    from pipeline.settings import load_settings

    from .warehouse import open_existing_warehouse

    until = end or datetime.now(UTC)
    since = start or until - timedelta(hours=6)
    check_range(_ms(since), _ms(until), "--from/--to")
    settings = load_settings(settings_file)
    ctx = QueryContext(
        since,
        until,
        interval_s=interval_s,
        variables={"district": district or ALL, "source": ALL},
    )
    boards = [d.to_json() for d in all_dashboards() if dashboard in (None, d.uid)]
    if not boards:
        uids = ", ".join(d.uid for d in all_dashboards())
        raise typer.BadParameter(f"no dashboard {dashboard!r}; choose one of {uids}")
    failed = 0
    with open_existing_warehouse(settings) as wh:
        wh.execute(f"USE {wh.database}")  # panels name tables as Grafana's data source sees them
        for board in boards:
            for r in preview_dashboard(wh, board, ctx):
                failed += bool(r.problems)
                mark = "FAIL" if r.problems else "ok  "
                typer.echo(
                    f"{mark} {r.dashboard} / {r.panel} [{r.ref}]: {r.rows} rows, "
                    f"columns {', '.join(r.columns)}"
                )
                for problem in r.problems:
                    typer.echo(f"       {problem}")
    if failed:
        raise typer.Exit(1)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
