"""A poll of ``alerts.normalized`` as the correlators take it: envelope records and watermark
marks apart, each mark kept where it stands among its partition's alerts.

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

from ..consumer import Polled

__all__ = ["SplitPoll", "split_poll"]

_NONE = np.empty(0, np.int64)


class SplitPoll(NamedTuple):
    """A poll of ``alerts.normalized`` as the correlators take it: the envelope records
    decoded (``decoded.record`` and the rejects index the poll's records), and per partition
    its marks with, for each, how many of the partition's rows (in row order) precede it."""

    decoded: EnvelopeBatch
    bad: list[Reject]
    marks: dict[int, tuple[np.ndarray, Marks]]

    def rows(self, polled: Polled) -> dict[int, np.ndarray]:
        """The decoded rows of each partition that has rows or marks, in partition order."""
        found = dict(partition_rows(polled.partitions[self.decoded.record]))
        return {p: found.get(p, _NONE) for p in sorted(set(found) | set(self.marks))}


def split_poll(polled: Polled, registry: AdminRegistry, origins: int) -> SplitPoll:
    """Split a poll into envelope records (decoded) and marks, keeping where each mark stands
    among its partition's alerts (offset order: the poll holds each partition's records in
    order)."""
    keys = [r.key for r in polled.records]
    envelopes, at, marks, bad_marks = split_marks(keys, polled.values, origins)
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
    return SplitPoll(decoded, bad, by_partition)
