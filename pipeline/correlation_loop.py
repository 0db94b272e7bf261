"""One partition's correlation step, shared by the live correlate stage and the backfill.

A partition of ``alerts.normalized`` holds whole tiles plus halo copies of the alerts near their
edges (:class:`~pipeline.routing.TileRouting`), so its correlator sees every alert that can touch
the cells it owns. It publishes only the flags and incidents centred in its own tiles (the
neighbour that owns a tile publishes the rest), and only its primaries can be late or failed: a
halo copy's fate is its owning partition's business, which reports it once.

Watermark marks (:mod:`pipeline.marks`) come between a partition's alerts: each goes to the
correlator after the alerts before it in the partition and before those after it, so the
results do not depend on where polls cut the partition (the correlator's results do not
depend on batch cuts, :mod:`pipeline.correlate.window.event_time`).

Nothing here knows a transport. The live stage runs :func:`correlate_partition` for each
partition of a poll in a worker thread (the correlators release the interpreter lock) and
publishes the result to Kafka; the backfill calls it for each partition in turn and stores the
result as rows. Both take late and failed alerts from here, so they dead-letter the same ones.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import NamedTuple

import numpy as np

from .alerts import AlertBatch
from .correlate import CorrelationOutput, Correlator
from .geo.admin_units import AdminRegistry
from .marks import Marks, Origins
from .outputs import FlagMessage, IncidentMessage, flag_messages, incident_messages
from .routing import TileRouting

__all__ = [
    "FAILED_DETAIL",
    "LATE_DETAIL",
    "PartitionResult",
    "correlate_partition",
    "owned_messages",
    "partition_rows",
]

log = logging.getLogger(__name__)

#: dead-letter details of the two ways a correlated alert fails
LATE_DETAIL = "event time behind the watermark (max event time seen - allowed lateness)"
FAILED_DETAIL = "correlator failed; see log"
_NONE = np.empty(0, np.int64)


class PartitionResult(NamedTuple):
    """What one partition's correlator made of its rows of a batch (``late`` and ``failed``
    are rows of the whole batch): messages to publish, late primaries, and the primaries of a
    batch the correlator failed on (a bug: the rest of the batch goes on)."""

    incidents: list[IncidentMessage]
    flags: list[FlagMessage]
    late: np.ndarray
    failed: np.ndarray

    @classmethod
    def failed_on(cls, rows: np.ndarray, halo: np.ndarray) -> PartitionResult:
        """Nothing published; every primary of ``rows`` failed."""
        return cls([], [], _NONE, rows[~halo])


def partition_rows(partition: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(partition, rows)`` of each partition present in ``partition`` (one per row of a
    batch), in partition order."""
    return [(p, np.flatnonzero(partition == p)) for p in np.unique(partition).tolist()]


def owned_messages(
    output: CorrelationOutput, partition: int, routing: TileRouting, registry: AdminRegistry
) -> tuple[list[IncidentMessage], list[FlagMessage]]:
    """The incidents and flags of ``output`` centred in tiles ``partition`` owns, as messages."""
    return (
        incident_messages(routing.owned(partition, output.incidents), registry),
        flag_messages(routing.owned(partition, output.flags), registry),
    )


def correlate_partition(
    correlator: Correlator,
    partition: int,
    alerts: AlertBatch,
    rows: np.ndarray,
    halo: np.ndarray,
    routing: TileRouting,
    registry: AdminRegistry,
    origins: Origins | None = None,
    marks: tuple[np.ndarray, Marks] | None = None,
) -> PartitionResult:
    """Correlate ``rows`` of ``alerts`` (``halo``: which of them are halo copies, ``origins``:
    where each row of ``alerts`` came from, None: all origin 0) on ``partition``'s
    correlator; see the module docstring. ``marks``: ``(at, marks)``, mark ``i`` following
    the first ``at[i]`` of ``rows`` (``at`` ascending). Safe to run in a worker thread while
    other partitions' correlators run in others."""
    # the flags of tiles others own are tracked, but their events are never built
    correlator.publish_only(partial(routing.owns, partition))
    mine = alerts.take(rows)
    theirs = None if origins is None else origins.take(rows)
    at, declared = marks if marks is not None else (_NONE, Marks.empty())
    cuts = np.unique(np.r_[at, len(rows)]).tolist()
    outputs, late, done = [], [_NONE], 0
    for cut in cuts:  # loop per run of alerts between marks: a few per poll
        try:
            if cut > done:
                part = np.arange(done, cut)
                output = correlator.process(
                    mine.take(part), None if theirs is None else theirs.take(part)
                )
                outputs.append(output)
                late.append(part[output.late_at])
            here = np.flatnonzero(at == cut)
            if len(here):
                mark = declared.take(here)
                outputs.append(correlator.declare(mark.origin, mark.progress_ms))
        except Exception:  # a bug: keep correlating the rest, dead-letter this batch visibly
            log.exception("partition %d: correlating %d alerts failed", partition, len(rows))
            result = _merged(outputs, late, partition, routing, registry, rows, halo)
            failed = PartitionResult.failed_on(rows[done:], halo[done:]).failed
            return result._replace(failed=failed)
        done = cut
    return _merged(outputs, late, partition, routing, registry, rows, halo)


def _merged(
    outputs: list[CorrelationOutput],
    late: list[np.ndarray],
    partition: int,
    routing: TileRouting,
    registry: AdminRegistry,
    rows: np.ndarray,
    halo: np.ndarray,
) -> PartitionResult:
    """One result of the correlator's outputs for runs of ``rows``; ``late``: positions in
    ``rows`` of the alerts it found late. By position, not by id: two copies of one alert
    (a redelivery) share its id and event time, and the correlator may find only one late."""
    output = CorrelationOutput(
        AlertBatch.empty(),
        [i for o in outputs for i in o.incidents],
        [f for o in outputs for f in o.flags],
    )
    incidents, flags = owned_messages(output, partition, routing, registry)
    at = np.concatenate(late)
    return PartitionResult(incidents, flags, rows[at[~halo[at]]], _NONE)
