"""Warehouse writes that survive an outage: retry with exponential backoff, block, never drop.

A live worker must not lose data when ClickHouse goes away, nor commit Kafka offsets past rows
it has not written. So an insert that fails because the server is unreachable
(:class:`~pipeline.exceptions.WarehouseUnavailable`) is retried, by default for ever, with
exponential backoff; meanwhile the calling stage stays blocked in its batch, its messages stay
unacknowledged, and their offsets stay uncommitted. Retrying is safe because every table is
idempotent (a batch written twice reads as written once; see ``schemas/clickhouse/``).

A statement the server *rejects* is different: retrying a bad column name for ever would hang
the worker silently. Only rejections ClickHouse documents as transient (too many parts,
memory limit, timeouts, a read-only table during a restart) are retried, a bounded number of
times; any other :class:`~pipeline.exceptions.WarehouseError` is raised at once.

>>> policy = RetryPolicy(initial_s=0.5, max_s=4.0, multiplier=2.0)
>>> [policy.delay(n) for n in range(1, 6)]
[0.5, 1.0, 2.0, 4.0, 4.0]
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ..exceptions import WarehouseError, WarehouseUnavailable
from .base import Warehouse

__all__ = ["RetryPolicy", "TRANSIENT_CODES", "insert_with_retry", "call_with_retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ClickHouse error codes worth retrying: the statement is fine, the server is busy or restarting.
TRANSIENT_CODES: frozenset[int] = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY (a table is read-only while its server starts up)
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS (inserts faster than merges: back off and they catch up)
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        425,  # SYSTEM_ERROR
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts, and how many to make.

    ``unavailable_attempts``: attempts while the server is unreachable; 0 means for ever (what a
    live worker wants: block rather than drop). ``rejected_attempts``: attempts for a transient
    rejection (:data:`TRANSIENT_CODES`); other rejections are never retried.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    unavailable_attempts: int = 0
    rejected_attempts: int = 5

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.multiplier < 1:
            raise ValueError(
                f"retry backoff needs 0 < initial_s <= max_s and multiplier >= 1, got "
                f"initial_s={self.initial_s}, max_s={self.max_s}, multiplier={self.multiplier}"
            )
        if self.unavailable_attempts < 0 or self.rejected_attempts < 1:
            raise ValueError(
                "unavailable_attempts must be >= 0 (0: for ever), rejected_attempts >= 1"
            )

    @classmethod
    def from_settings(cls, settings) -> RetryPolicy:
        """The policy configured in :class:`pipeline.settings.Settings` (``warehouse_retry_*``)."""
        return cls(
            initial_s=settings.warehouse_retry_initial_s,
            max_s=settings.warehouse_retry_max_s,
            multiplier=settings.warehouse_retry_multiplier,
            unavailable_attempts=settings.warehouse_retry_unavailable_attempts,
            rejected_attempts=settings.warehouse_retry_rejected_attempts,
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.max_s, self.initial_s * self.multiplier ** (attempt - 1))

    def should_retry(self, exc: WarehouseError, attempt: int) -> bool:
        """Whether failed attempt number ``attempt`` that raised ``exc`` deserves another try."""
        if isinstance(exc, WarehouseUnavailable):
            return self.unavailable_attempts == 0 or attempt < self.unavailable_attempts
        return exc.code in TRANSIENT_CODES and attempt < self.rejected_attempts


def call_with_retry(
    action: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[WarehouseError], None] | None = None,
) -> T:
    """``action()``, retried under ``policy``; blocks the calling thread while it waits.
    ``on_retry`` is told of each failure that is retried (a metric counts them)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except WarehouseError as exc:
            sleep(_next_delay(exc, attempt, policy, what, on_retry))


async def insert_with_retry(
    warehouse: Warehouse,
    table: str,
    columns: Mapping[str, np.ndarray | Sequence],
    policy: RetryPolicy,
    *,
    distinct_keys: bool = False,
    on_retry: Callable[[WarehouseError], None] | None = None,
) -> None:
    """Insert one columnar batch, retrying under ``policy``; returns only once it is written.
    ``distinct_keys`` as in :meth:`Warehouse.insert`; ``on_retry`` as in
    :func:`call_with_retry`.

    The insert runs in a thread (clickhouse-driver and chDB block); the wait between attempts
    is an ``asyncio.sleep``, so the event loop (heartbeats, other stages) keeps running while
    this batch, and the offsets behind it, wait for the warehouse.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            if distinct_keys:
                await asyncio.to_thread(warehouse.insert, table, columns, distinct_keys=True)
            else:
                await asyncio.to_thread(warehouse.insert, table, columns)
            if attempt > 1:
                log.warning("warehouse insert into %s succeeded on attempt %d", table, attempt)
            return
        except WarehouseError as exc:
            delay = _next_delay(exc, attempt, policy, f"insert into {table}", on_retry)
            await asyncio.sleep(delay)


def _next_delay(
    exc: WarehouseError,
    attempt: int,
    policy: RetryPolicy,
    what: str,
    on_retry: Callable[[WarehouseError], None] | None,
) -> float:
    """The wait before the next attempt; re-raises ``exc`` when there is to be none."""
    if not policy.should_retry(exc, attempt):
        if attempt > 1:
            exc.add_note(f"gave up on the warehouse {what} after {attempt} attempts")
        raise exc
    if on_retry is not None:
        on_retry(exc)
    delay = policy.delay(attempt)
    log.warning(
        "warehouse %s failed (attempt %d, code %s): %s; retrying in %.1f s",
        what,
        attempt,
        exc.code,
        exc,
        delay,
    )
    return delay
