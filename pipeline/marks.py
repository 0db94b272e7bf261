"""Watermark marks on ``alerts.normalized``: where each alert came from, how far each source got.

Every normalised alert carries its **origin**: the feed partition it was read from, as one
dense id, ``SOURCE_CODE[feed] * partitions + feed partition`` (:func:`origin_ids`). The count
of partitions per feed is the ``partitions`` setting, not the topics' metadata: the normalise
workers number the origins and every correlator must expect the same set, with no broker round
trip in between, and the backfill (which has no broker) and the tests build correlators too.
The worker checks at start that every feed topic has exactly that many partitions
(:func:`check_feed_partitions`), so the numbering cannot silently disagree with the topics.
The backfill has no feed partitions: all its alerts are origin 0 of one origin.

Each alert also carries the progress its origin had declared before it (:class:`Origins`),
so a correlator judges it against all of its origin's earlier alerts, not only those routed to
its own partition.

A **mark** is a record on ``alerts.normalized`` that says "origin ``o`` has reached event time
``t``": ``{"origin": o, "progress_ms": t, "offset": f}`` (:class:`WatermarkMark`), ``f`` being
the feed partition's next offset, the first record the mark does not speak for. Marks are told
from envelope records by their key, :data:`MARK_KEY` (envelope records have none), so the
correlate stage splits a poll without decoding anything. A key rather than a record header: it
survives every tool that copies records (mirrors, dumps, replays to files), and aiokafka hands
it over as it is. The normalise stage publishes one per feed partition of each batch to every
partition, after that batch's envelopes (:mod:`jobs.watermarks`); a correlator takes per origin
the largest progress declared (:mod:`pipeline.correlate.window.event_time`). Because marks are
records in the log, re-correlating ``alerts.normalized`` gives the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import msgspec
import numpy as np

from .alerts import SOURCES
from .deadletter import Reason
from .exceptions import ConfigurationError
from .feeds.decode import Reject

__all__ = [
    "MARK_KEY",
    "NO_PROGRESS",
    "WatermarkMark",
    "Marks",
    "Origins",
    "origin_count",
    "origin_ids",
    "encode_marks",
    "split_marks",
    "check_feed_partitions",
]

#: the key of every mark record (envelope records carry no key)
MARK_KEY = b"hotspot.watermark"
#: progress not known yet (int64 min)
NO_PROGRESS = np.iinfo(np.int64).min


class WatermarkMark(msgspec.Struct, frozen=True, gc=False):
    """A record on alerts.normalized keyed ``hotspot.watermark``: every alert of ``origin``
    still to come has event time at least ``progress_ms`` minus the allowed lateness (one that
    does not is dead-lettered as late)."""

    origin: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="feed partition: index of the feed in (alarm_phone, dispatch_110, "
            "camera, grid_report) x partitions per feed + the partition",
        ),
    ]
    progress_ms: Annotated[
        int, msgspec.Meta(description="event time the origin has reached, epoch milliseconds")
    ]
    offset: Annotated[
        int | None,
        msgspec.Meta(
            description="the feed partition's next offset: the mark speaks for every record "
            "before it (a restarted normaliser takes its progress from the mark at its "
            "committed offset); absent or null when not known"
        ),
    ] = None


@dataclass(frozen=True, slots=True)
class Marks:
    """Marks in arrival order: ``origin[i]`` reached ``progress_ms[i]`` with every record of
    its feed partition before ``offset[i]`` (-1: not known; None: none known)."""

    origin: np.ndarray  # int64
    progress_ms: np.ndarray  # int64
    offset: np.ndarray | None = None  # int64

    @classmethod
    def empty(cls) -> Marks:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.origin)

    def offsets(self) -> np.ndarray:
        """``offset``, -1 where not known."""
        if self.offset is None:
            return np.full(len(self.origin), -1, np.int64)
        return self.offset

    def take(self, index: np.ndarray) -> Marks:
        offset = None if self.offset is None else self.offset[index]
        return Marks(self.origin[index], self.progress_ms[index], offset)


@dataclass(frozen=True, slots=True)
class Origins:
    """Where each alert of a batch came from: its origin, and the progress that origin had
    declared before it (:data:`NO_PROGRESS`: not known, e.g. the first alert a normaliser
    publishes after it restarted). The normaliser computes the progress in its feed
    partition's order, so an alert is judged late against every alert of its origin before
    it, also those routed to other partitions, whatever the batches (and workers) were."""

    origin: np.ndarray  # int64
    progress_ms: np.ndarray  # int64

    def take(self, index: np.ndarray) -> Origins:
        return Origins(self.origin[index], self.progress_ms[index])


def origin_count(partitions: int) -> int:
    """How many origins a deployment with ``partitions`` partitions per feed topic has."""
    return len(SOURCES) * partitions


def origin_ids(source_code: int, feed_partition: np.ndarray, partitions: int) -> np.ndarray:
    """Origin ids of alerts of feed ``source_code`` read from ``feed_partition``."""
    return source_code * partitions + np.asarray(feed_partition, np.int64)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(WatermarkMark)


def encode_marks(marks: Marks) -> list[bytes]:
    """One record value per mark."""
    return [
        _ENCODER.encode(WatermarkMark(o, p, None if f < 0 else f))
        for o, p, f in zip(
            marks.origin.tolist(), marks.progress_ms.tolist(), marks.offsets().tolist(), strict=True
        )
    ]


def split_marks(
    keys: Sequence[bytes | None], values: Sequence[bytes], origins: int
) -> tuple[np.ndarray, np.ndarray, Marks, list[Reject]]:
    """Tell marks from envelope records: ``(envelopes, at, marks, rejects)`` where
    ``envelopes`` are the positions of the other records, ``at`` the positions of the valid
    marks, ``marks`` what they say, and ``rejects`` the marks that cannot be read or name an
    origin outside ``0 .. origins - 1`` (dead-lettered; the rest goes on)."""
    is_mark = np.fromiter((k == MARK_KEY for k in keys), bool, len(keys))  # a compare a record
    at = np.flatnonzero(is_mark)
    kept, origin, progress, offset, rejects = [], [], [], [], []
    for i in at.tolist():  # loop per mark: a few per normalise batch and partition
        try:
            mark = _DECODER.decode(values[i])
        except msgspec.DecodeError as exc:
            rejects.append(Reject(i, Reason.MALFORMED_RECORD, f"not a watermark mark: {exc}"))
            continue
        if mark.origin >= origins:
            rejects.append(
                Reject(
                    i,
                    Reason.INVALID_VALUE,
                    f"watermark mark of origin {mark.origin}, but there are {origins} origins: "
                    "a worker with another `partitions` setting",
                )
            )
            continue
        kept.append(i)
        origin.append(mark.origin)
        progress.append(mark.progress_ms)
        offset.append(-1 if mark.offset is None else mark.offset)
    marks = Marks(
        np.array(origin, np.int64), np.array(progress, np.int64), np.array(offset, np.int64)
    )
    return np.flatnonzero(~is_mark), np.array(kept, np.int64), marks, rejects


def check_feed_partitions(found: dict[str, int], partitions: int) -> None:
    """Refuse feed topics whose partition count is not ``partitions`` (``found``: topic →
    its partition count): origins would collide, or some would never declare progress."""
    wrong = {topic: n for topic, n in found.items() if n != partitions}
    if wrong:
        raise ConfigurationError(
            f"feed topics {wrong} do not have {partitions} partitions (the `partitions` "
            "setting), so watermark origins would not match them: set HOTSPOT_PARTITIONS to "
            "their partition count, or give every feed topic that many partitions"
        )
