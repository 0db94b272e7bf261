"""The warehouse: ClickHouse through chDB (embedded) or clickhouse-driver (server), and the
rows the pipeline stores in it (:mod:`.rows` from records, :mod:`.alert_columns` from a
normalised batch's Arrow columns)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ..exceptions import ConfigurationError
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
    scheme = urlparse(url).scheme
    if scheme == "chdb":
        from .embedded import EmbeddedWarehouse

        return EmbeddedWarehouse(Path(url[len("chdb://") :]))
    if scheme == "clickhouse":
        from .server import ServerWarehouse

        return ServerWarehouse(url)
    raise ConfigurationError(
        f"warehouse URL {url!r} not understood; use chdb:///path or clickhouse://host:9000/db"
    )
