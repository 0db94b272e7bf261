"""``hotspot deadletter show``: recent dead letters, their original bytes opened."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import SettingsFile, settings_from

__all__ = ["deadletter_app"]

deadletter_app = typer.Typer(help="Inspect dead letters.", no_args_is_help=True)


@deadletter_app.command("show")
def show(
    settings_file: SettingsFile = None,
    limit: Annotated[int, typer.Option(help="Most dead letters shown.", min=1)] = 20,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
) -> None:
    """Print recent dead letters with their original bytes opened (needs the pseudonym key)."""
    from cryptography.fernet import InvalidToken

    from pipeline.deadletter import Reason, Sealer
    from pipeline.exceptions import ConfigurationError

    from .warehouse import open_existing_warehouse

    if reason is not None and reason not in set(Reason):
        raise typer.BadParameter(
            f"{reason!r}: choose one of {', '.join(Reason)}", param_hint="--reason"
        )
    settings = settings_from(settings_file)
    sealer = Sealer(settings.pseudonym_secret(create=False))  # a reader never makes a key
    where = f"WHERE reason = '{Reason(reason).value}'" if reason else ""
    with open_existing_warehouse(settings) as wh:
        rows = wh.query(
            f"SELECT received_time, reason, topic, partition, offset, detail, payload_sealed "
            f"FROM {wh.database}.deadletters FINAL {where} ORDER BY received_time DESC "
            f"LIMIT {int(limit)}"
        )
    for when, why, topic, partition, offset, detail, sealed in rows:
        try:
            payload = sealer.open(sealed).decode("utf-8", errors="replace")
        except InvalidToken as exc:
            raise ConfigurationError(
                f"the pseudonym key does not open the dead letter {topic}[{partition}]@{offset}: "
                "it was sealed with another key; set HOTSPOT_PSEUDONYM_KEY (or HOTSPOT_DATA_DIR, "
                "for its pseudonym.key) to the key of the workers that wrote it"
            ) from exc
        typer.echo(f"{when} {why:<16} {topic}[{partition}]@{offset} {detail}\n    {payload}")
