"""chDB: the ClickHouse engine inside this process, data under a local directory.

Only one process may hold a data directory at a time; the worker holds it while it runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..exceptions import WarehouseError
from .base import Warehouse

__all__ = ["EmbeddedWarehouse"]

_insert_ids = itertools.count()


class EmbeddedWarehouse(Warehouse):
    def __init__(self, path: Path, database: str = "hotspot") -> None:
        from chdb import session  # heavy import: only when the embedded backend is used

        path.mkdir(parents=True, exist_ok=True)
        try:
            self._session = session.Session(str(path))
        except Exception as exc:  # chDB raises plain RuntimeErrors
            raise WarehouseError(
                f"cannot open chDB data directory {path}: {exc}. Is another worker using it? "
                "Stop it, or point HOTSPOT_WAREHOUSE_URL at another directory."
            ) from exc
        self.path = path
        self.database = database
        self.execute(f"CREATE DATABASE IF NOT EXISTS {database}")

    def _run(self, sql: str, fmt: str = "CSV"):
        try:
            return self._session.query(sql, fmt)
        except RuntimeError as exc:
            raise WarehouseError(f"chDB rejected the statement: {exc}", code=_code(exc)) from exc

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[tuple]:
        table = self._run(sql, "ArrowTable")
        return list(zip(*(col.to_pylist() for col in table.columns), strict=True))

    def query_columns(self, sql: str) -> dict[str, list]:
        table = self._run(sql, "ArrowTable")
        return {name: table.column(name).to_pylist() for name in table.column_names}

    def insert(
        self,
        table: str,
        columns: Mapping[str, np.ndarray | Sequence | pa.Array],
        *,
        distinct_keys: bool = False,
    ) -> None:
        batch = pa.table({name: _arrow(values) for name, values in columns.items()})
        if batch.num_rows == 0:
            return
        names = ", ".join(columns)
        # chDB's Python() table function finds the object by variable name, searching frames
        # that may belong to other threads; a module global with a name unique to this insert
        # cannot be confused with anybody's local ``batch``.
        variable = f"_hotspot_insert_{next(_insert_ids)}"
        # Merging equal sorting keys within the block costs about a quarter of an alerts
        # insert (rollup views included; benchmarks/README.md, "Ingest path, round 2"), and
        # finds nothing when the keys are distinct. The views' GROUP BY makes their own
        # blocks' keys distinct, so their parts do not change either.
        settings = " SETTINGS optimize_on_insert = 0" if distinct_keys else ""
        globals()[variable] = batch
        try:
            self._run(
                f"INSERT INTO {self.database}.{table} ({names}) "
                f"SELECT {names} FROM Python({variable}){settings}"
            )
        finally:
            del globals()[variable]

    def close(self) -> None:
        self._session.close()


def _arrow(values: np.ndarray | Sequence | pa.Array) -> pa.Array:
    if isinstance(values, pa.Array):  # already typed (e.g. a dictionary of codes)
        return values
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":  # NaT becomes NULL
        return pa.array(
            values.astype("datetime64[ms]"),
            type=pa.timestamp("ms", tz="UTC"),
            mask=np.isnat(values),
        )
    if len(values) and isinstance(values[0], dict):  # Arrow would infer a struct, not a map
        return pa.array([list(d.items()) for d in values], type=pa.map_(pa.string(), pa.int64()))
    return pa.array(values)


def _code(exc: Exception) -> int | None:
    text = str(exc)
    if text.startswith("Code: "):
        digits = text[6:].split(".", 1)[0]
        return int(digits) if digits.isdigit() else None
    return None
