"""chDB: the ClickHouse engine inside this process, data under a local directory.

Only one process may hold a data directory at a time; the worker holds it while it runs.
"""

from __future__ import annotations

import fcntl
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from ..exceptions import WarehouseError, WarehouseInUse
from .base import Warehouse

__all__ = ["EmbeddedWarehouse", "LockHolder", "directory_holder"]

_insert_ids = itertools.count()


class EmbeddedWarehouse(Warehouse):
    def __init__(self, path: Path, database: str = "hotspot") -> None:
        from chdb import session  # heavy import: only when the embedded backend is used

        path.mkdir(parents=True, exist_ok=True)
        try:
            self._session = session.Session(str(path))
        except Exception as exc:  # chDB raises plain RuntimeErrors
            holder = directory_holder(path)
            if holder is not None:
                raise WarehouseInUse(
                    in_use_message(path, holder), pid=holder.pid, command=holder.command
                ) from exc
            raise WarehouseError(
                f"cannot open chDB data directory {path}: {exc}. It is not held by another "
                "process; check that it is a warehouse this version wrote and that you may "
                "write it"
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
        return _map_array(values)
    return pa.array(values)


def _map_array(counts: Sequence[dict]) -> pa.MapArray:
    """``Map(String, Int64)`` of counts by name (``source_counts``, ``category_counts``):
    every key and every value flattened by one C-level ``chain`` each, and the offsets from
    the dicts' sizes. ``pa.array`` of each dict's ``items()`` converted a list of tuples per
    row: 124 ms for the 19,422 flag versions of the dense benchmark hour, against 15 ms."""
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(np.fromiter(map(len, counts), np.int32, len(counts)), out=offsets[1:])
    keys = pa.array(list(itertools.chain.from_iterable(counts)), pa.string())
    items = pa.array(list(itertools.chain.from_iterable(map(dict.values, counts))), pa.int64())
    return pa.MapArray.from_arrays(offsets, keys, items)


def _code(exc: Exception) -> int | None:
    text = str(exc)
    if text.startswith("Code: "):
        digits = text[6:].split(".", 1)[0]
        return int(digits) if digits.isdigit() else None
    return None


class LockHolder(NamedTuple):
    """The process holding a chDB directory: its id and command line (shortened)."""

    pid: str
    command: str

    def __str__(self) -> str:
        return f"process {self.pid} ({self.command})" if self.command else f"process {self.pid}"


def in_use_message(path: Path, holder: LockHolder) -> str:
    """Why a directory cannot be opened, and what reads alongside a process that holds it.

    chDB's own error says only "Error initializing EmbeddedServer"; the cause it prints to
    stderr is that another process holds the directory's ``status`` file lock (ClickHouse
    writes its PID there). The advice fits every holder: a worker or demo (watch its flags
    with ``top --bootstrap``) and another reading command (wait, or use a server).
    """
    return (
        f"chDB data directory {path} is in use by {holder}: chDB lets one process at a time "
        "open a directory, even to read it. Wait for that process to end (or stop it), and run "
        "reading commands one after another. To watch the open flags while a worker or demo "
        "runs, use `hotspot top --bootstrap HOST:PORT` (the worker prints its broker); for "
        "several readers at once, keep the warehouse on a ClickHouse server "
        "(HOTSPOT_WAREHOUSE_URL=clickhouse://...)"
    )


def directory_holder(path: Path) -> LockHolder | None:
    """The process holding ClickHouse's lock on ``path/status``, or None (free, or never
    opened). Taking that lock ourselves, without waiting, tells the two apart."""
    try:
        with open(path / "status", "rb") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                first = fh.readline().decode(errors="replace").strip()  # "PID: 1234"
            else:
                fcntl.flock(fh, fcntl.LOCK_UN)
                return None
    except OSError:
        return None
    pid = first.removeprefix("PID:").strip() or "(unknown)"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (OSError, UnicodeDecodeError):
        command = ""
    command = " ".join(command.split())
    if len(command) > 100:
        command = command[:99] + "…"
    return LockHolder(pid, command)
