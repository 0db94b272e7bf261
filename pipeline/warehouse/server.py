"""A ClickHouse server over the native protocol (clickhouse-driver)."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
import pyarrow as pa

from ..exceptions import WarehouseError, WarehouseUnavailable
from .base import Warehouse

__all__ = ["ServerWarehouse"]

#: ``INSERT … VALUES (…)`` with the rows in the statement's text
_INLINE_VALUES = re.compile(r"\s*INSERT\b.*\bVALUES\s*\(", re.IGNORECASE | re.DOTALL)


class ServerWarehouse(Warehouse):
    def __init__(self, url: str) -> None:
        from clickhouse_driver import Client

        parts = urlparse(url)
        self.address = f"{parts.hostname or '127.0.0.1'}:{parts.port or 9000}"
        self.database = (parts.path or "/hotspot").lstrip("/") or "hotspot"
        self._client = Client(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 9000,
            user=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            connect_timeout=5,
            settings={"use_numpy": False},
            **_tls_options(parse_qs(parts.query)),
        )
        # one connection, one statement at a time: the sink stages insert from several threads
        # at once, and the client refuses (or garbles) simultaneous queries on a connection
        self._lock = threading.Lock()
        # a writer (schemas/clickhouse/access/) may not create it: ask first
        known = self.query(f"SELECT count() FROM system.databases WHERE name = '{self.database}'")
        if not known[0][0]:
            self.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")

    def _call(self, sql: str, data=None, **kwargs):
        from clickhouse_driver import errors

        try:
            with self._lock:
                if data is None:
                    return self._client.execute(sql, **kwargs)
                return self._client.execute(sql, data, **kwargs)
        except (errors.NetworkError, errors.SocketTimeoutError, OSError, EOFError) as exc:
            # the client reconnects on its next call: the caller may simply retry
            raise WarehouseUnavailable(
                f"ClickHouse server {self.address} unreachable: {exc}. Start it, or check "
                "HOTSPOT_WAREHOUSE_URL; writes are retried until it answers",
                code=getattr(exc, "code", None),
            ) from exc
        except errors.ServerException as exc:
            raise WarehouseError(
                f"ClickHouse server {self.address} rejected the statement: {exc}", code=exc.code
            ) from exc

    def execute(self, sql: str) -> None:
        if _INLINE_VALUES.match(sql):
            # over the native protocol the server then waits for data blocks the statement has
            # already given (18.16 does): the call would hang instead of failing
            raise WarehouseError(
                "INSERT … VALUES with inline rows is not supported by the server backend; "
                "use Warehouse.insert() with columns, or INSERT … SELECT"
            )
        self._call(sql)

    def query(self, sql: str) -> list[tuple]:
        return self._call(sql)

    def query_columns(self, sql: str) -> dict[str, list]:
        rows, types = self._call(sql, with_column_types=True)
        return {name: [r[i] for r in rows] for i, (name, _) in enumerate(types)}

    def insert(
        self,
        table: str,
        columns: Mapping[str, np.ndarray | Sequence | pa.Array],
        *,
        distinct_keys: bool = False,  # noqa: ARG002 - old servers lack optimize_on_insert
    ) -> None:
        data = [_plain(values) for values in columns.values()]
        if not data or len(data[0]) == 0:
            return
        names = ", ".join(columns)
        self._call(f"INSERT INTO {self.database}.{table} ({names}) VALUES", data, columnar=True)

    def close(self) -> None:
        self._client.disconnect()


def _plain(values: np.ndarray | Sequence | pa.Array) -> list:
    if isinstance(values, pa.Array):
        return values.to_pylist()  # a dictionary array gives its values
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[ms]").astype(object).tolist()
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _tls_options(query: dict[str, list[str]]) -> dict[str, object]:
    """clickhouse-driver's TLS arguments from the URL's query, which ``Settings`` fills from
    warehouse_tls, warehouse_tls_verify and warehouse_tls_ca_file (resolved_warehouse_url)."""
    if query.get("secure", ["0"])[-1] not in ("1", "true", "True"):
        return {}
    options: dict[str, object] = {"secure": True}
    options["verify"] = query.get("verify", ["1"])[-1] in ("1", "true", "True")
    if "ca_certs" in query:
        options["ca_certs"] = query["ca_certs"][-1]
    return options
