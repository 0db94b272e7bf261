"""One warehouse interface, two backends: chDB in-process, or a ClickHouse server."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["Warehouse"]


class Warehouse(ABC):
    """ClickHouse reached one way or another. ``database`` is where the project's tables live."""

    database: str

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, INSERT … SELECT)."""

    @abstractmethod
    def query(self, sql: str) -> list[tuple]:
        """Rows of a SELECT, as tuples of Python values."""

    @abstractmethod
    def insert(
        self,
        table: str,
        columns: Mapping[str, np.ndarray | Sequence],
        *,
        distinct_keys: bool = False,
    ) -> None:
        """Insert one columnar batch (all columns of equal length) into ``database.table``.

        ``distinct_keys``: the caller knows that no two rows of the batch share the table's
        sorting key. The backend may then skip merging equal keys within the batch
        (``optimize_on_insert=0``), which would find nothing to merge: the part written is the
        same, for less work.

        A column is a NumPy array, a sequence, or a ``pyarrow.Array``: a text column given as
        an Arrow dictionary array of codes (e.g. LowCardinality codes) needs no Python string
        per row on the embedded backend.

        Raises :class:`~pipeline.exceptions.WarehouseUnavailable` when ClickHouse cannot be
        reached (retry: every table is idempotent, so a batch written twice reads as once) and
        :class:`~pipeline.exceptions.WarehouseError` with ClickHouse's code when it rejects the
        statement. :func:`pipeline.warehouse.retry.insert_with_retry` does the retrying.
        """

    @abstractmethod
    def close(self) -> None: ...

    def query_columns(self, sql: str) -> dict[str, list]:
        """A SELECT's result as ``{column: values}``; column names from the statement's aliases."""
        raise NotImplementedError

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
