"""A poll of ``alerts.normalized`` as the correlators take it: envelope records, watermark
marks and acks (:mod:`pipeline.patrol`) apart, each mark and ack kept where it stands among its
partition's alerts.

Correlators take a partition's alerts and marks in offset order (alerts up to a mark, the mark,
the alerts after it...), so that their results do not depend on where polls cut the partition.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pipeline.correlation_loop import partition_rows
from pipeline.envelope import EnvelopeBatch, decode_envelopes
from pipeline.feeds.decode import Reject
from pipeline.geo.admin_units import AdminRegistry
from pipeline.marks import Marks, split_marks
from pipeline.patrol import ACK_KEY, PartitionAcks, decode_ack_records

from ..consumer import Polled

__all__ = ["SplitPoll", "split_poll"]

_NONE = np.empty(0, np.int64)


class SplitPoll(NamedTuple):
    """A poll of ``alerts.normalized`` as the correlators take it: the envelope records
    decoded (``decoded.record`` and the rejects index the poll's records), and per partition
    its marks with, for each, how many of the partition's rows (in row order) precede it, and
    its acks with how many of its rows and marks precede each."""

    decoded: EnvelopeBatch
    bad: list[Reject]
    marks: dict[int, tuple[np.ndarray, Marks]]
    acks: dict[int, PartitionAcks]

    def rows(self, polled: Polled) -> dict[int, np.ndarray]:
        """The decoded rows of each partition that has rows, marks or acks, in partition
        order."""
        found = dict(partition_rows(polled.partitions[self.decoded.record]))
        held = set(found) | set(self.marks) | set(self.acks)
        return {p: found.get(p, _NONE) for p in sorted(held)}


def split_poll(polled: Polled, registry: AdminRegistry, origins: int) -> SplitPoll:
    """Split a poll into envelope records (decoded) and marks, keeping where each mark stands
    among its partition's alerts (offset order: the poll holds each partition's records in
    order)."""
    keys = [r.key for r in polled.records]
    is_ack = np.fromiter((k == ACK_KEY for k in keys), bool, len(keys))  # a compare a record
    others = np.flatnonzero(~is_ack)
    envelopes, at, marks, bad_marks = split_marks(
        [keys[i] for i in others.tolist()], [polled.values[i] for i in others.tolist()], origins
    )
    envelopes, at = others[envelopes], others[at]
    bad_marks = [Reject(int(others[r.index]), r.reason, r.detail) for r in bad_marks]
    decoded, bad = decode_envelopes([polled.values[i] for i in envelopes.tolist()], registry)
    decoded = EnvelopeBatch(
        decoded.alerts,
        decoded.halo,
        envelopes[decoded.record],
        {int(envelopes[i]): table for i, table in decoded.tables.items()},
        decoded.origins,
    )
    bad = [Reject(int(envelopes[r.index]), r.reason, r.detail) for r in bad] + bad_marks
    by_partition = {}
    mark_partition = polled.partitions[at]
    row_partition = polled.partitions[decoded.record]
    for p in np.unique(mark_partition).tolist():  # loop per partition
        here = np.flatnonzero(mark_partition == p)
        records = decoded.record[row_partition == p]  # ascending: rows are in record order
        by_partition[p] = (np.searchsorted(records, at[here]), marks.take(here))
    acks, bad_acks = _acks(polled, np.flatnonzero(is_ack), decoded.record, at)
    return SplitPoll(decoded, bad + bad_acks, by_partition, acks)


def _acks(
    polled: Polled, at_acks: np.ndarray, row_records: np.ndarray, at_marks: np.ndarray
) -> tuple[dict[int, PartitionAcks], list[Reject]]:
    """The poll's ack records per partition, each with the partition's rows and marks before
    it; ``row_records`` and ``at_marks``: the poll positions of the decoded rows and marks."""
    if not len(at_acks):
        return {}, []
    kept, records, bad = decode_ack_records([polled.values[i] for i in at_acks.tolist()])
    rejects = [Reject(int(at_acks[r.index]), r.reason, r.detail) for r in bad]
    at_kept = at_acks[np.array(kept, np.int64)]
    ack_partition = polled.partitions[at_kept]
    found = {}
    for p in np.unique(ack_partition).tolist():  # loop per partition
        here = np.flatnonzero(ack_partition == p)
        rows_p = row_records[polled.partitions[row_records] == p]  # ascending, as above
        marks_p = at_marks[polled.partitions[at_marks] == p]
        found[p] = PartitionAcks(
            np.searchsorted(rows_p, at_kept[here]),
            np.searchsorted(marks_p, at_kept[here]),
            [records[i] for i in here.tolist()],
            at_kept[here].tolist(),
        )
    return found, rejects
