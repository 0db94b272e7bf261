"""The warehouse: ClickHouse through chDB (embedded) or clickhouse-driver (server), and the
rows the pipeline stores in it (:mod:`.rows` from records, :mod:`.alert_columns` from a
normalised batch's Arrow columns)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ..exceptions import ConfigurationError
from ..redact import redact_url
from .base import Warehouse
from .migrations import migrate
from .retry import RetryPolicy, call_with_retry, insert_with_retry

__all__ = [
    "Warehouse",
    "open_warehouse",
    "migrate",
    "RetryPolicy",
    "insert_with_retry",
    "call_with_retry",
]


def open_warehouse(url: str) -> Warehouse:
    """``chdb:///abs/path`` or ``clickhouse://user:pass@host:9000/db``."""
    try:
        parts = urlparse(url)
        parts.port  # noqa: B018 -- a port that is not a number raises here, not in the client
    except ValueError as exc:
        raise ConfigurationError(
            f"warehouse URL {redact_url(url)!r} is not a URL ({exc}); check "
            "HOTSPOT_WAREHOUSE_URL: clickhouse://user:pass@host:9000/db, the password "
            "percent-encoded"
        ) from None
    scheme = parts.scheme
    if scheme == "chdb":
        from .embedded import EmbeddedWarehouse

        return EmbeddedWarehouse(Path(url[len("chdb://") :]))
    if scheme == "clickhouse":
        from .server import ServerWarehouse

        return ServerWarehouse(url)
    raise ConfigurationError(
        f"warehouse URL {redact_url(url)!r} not understood (HOTSPOT_WAREHOUSE_URL); use "
        "chdb:///path or clickhouse://user:pass@host:9000/db"
    )
