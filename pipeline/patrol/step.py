"""One partition's step with its notices: the correlation step, cut at the partition's acks.

The correlate stage hands a partition's alerts, marks and acks of a poll, each where it stands
in the partition's log. The alerts and marks between two acks go through
:func:`~pipeline.correlation_loop.correlate_partition`; its flag versions go to the partition's
:class:`~pipeline.patrol.book.NoticeBook`, then the timers due by the correlator's watermark
fire, then the ack is applied. A flag version of a cell that a false alarm quieted is held back
from the partition's result (so from ``hotspots.flags`` and the warehouse) while the hold
lasts. So a notice sees everything in log order, and the events do not
depend on where polls cut the log (see :mod:`pipeline.patrol.book`).

The backfill does not run this: notices are for people acting now, and the backfill's outputs
stay what they were.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..alerts import AlertBatch
from ..correlate import Correlator
from ..correlation_loop import PartitionResult, correlate_partition
from ..geo.admin_units import AdminRegistry
from ..marks import Marks, Origins
from ..routing import TileRouting
from .book import AckRefused, NoticeBook
from .wire import AckRecord, NoticeEvent

__all__ = ["PartitionAcks", "PatrolResult", "patrol_partition"]

_NONE = np.empty(0, np.int64)


class PartitionAcks(NamedTuple):
    """A partition's acks of a poll, in log order: ack ``i`` follows the first
    ``rows_before[i]`` of the partition's rows and the first ``marks_before[i]`` of its marks;
    ``index[i]`` is its position in the poll (for its dead letter)."""

    rows_before: np.ndarray
    marks_before: np.ndarray
    records: list[AckRecord]
    index: list[int]


class PatrolResult(NamedTuple):
    """The correlation result, the notice events, and the refused acks ``(poll position,
    refusal)``."""

    result: PartitionResult
    events: list[NoticeEvent]
    refused: list[tuple[int, AckRefused]]


def patrol_partition(
    correlator: Correlator,
    book: NoticeBook,
    partition: int,
    alerts: AlertBatch,
    rows: np.ndarray,
    halo: np.ndarray,
    routing: TileRouting,
    registry: AdminRegistry,
    origins: Origins | None,
    marks: tuple[np.ndarray, Marks] | None,
    acks: PartitionAcks | None,
) -> PatrolResult:
    """:func:`~pipeline.correlation_loop.correlate_partition` of ``rows`` (and ``marks``:
    ``(at, marks)`` as there) with the notices kept in ``book``; see the module docstring."""
    at, declared = marks if marks is not None else (_NONE, Marks.empty())
    cuts = (
        []
        if acks is None
        else list(zip(acks.rows_before.tolist(), acks.marks_before.tolist(), strict=True))
    )
    results, events, refused = [], [], []
    row, mark = 0, 0
    for j, (row_end, mark_end) in enumerate([*cuts, (len(rows), len(at))]):  # loop per ack
        if row_end > row or mark_end > mark:
            result = correlate_partition(
                correlator,
                partition,
                alerts,
                rows[row:row_end],
                halo[row:row_end],
                routing,
                registry,
                origins,
                (at[mark:mark_end] - row, declared.take(np.arange(mark, mark_end))),
            )
            # A cell a false alarm quieted does not flag again (pipeline.patrol.book).
            result = result._replace(flags=book.screen(result.flags))
            results.append(result)
            events += book.flags(result.flags)
        events += book.due(correlator.watermark)
        row, mark = row_end, mark_end
        if j < len(cuts):
            outcome = book.apply(acks.records[j])
            if isinstance(outcome, AckRefused):
                refused.append((acks.index[j], outcome))
            else:
                events.append(outcome)
    return PatrolResult(_merged(results), events, refused)


def _merged(results: list[PartitionResult]) -> PartitionResult:
    return PartitionResult(
        [i for r in results for i in r.incidents],
        [f for r in results for f in r.flags],
        np.concatenate([r.late for r in results] or [_NONE]),
        np.concatenate([r.failed for r in results] or [_NONE]),
    )
