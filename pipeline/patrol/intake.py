"""The ack intake: raw acks from ``hotspots.acks`` validated, pseudonymised and routed.

An ack that is not a valid :class:`~pipeline.patrol.wire.Ack` (not JSON, a field missing or of
the wrong type or value, a false alarm without a reason) is dead-lettered here with the
decoder's reason, as a feed message would be; an ack whose notice id names a partition that
does not exist is an unknown notice. The rest become
:class:`~pipeline.patrol.wire.AckRecord` values for the partition of ``alerts.normalized``
their notice id names. Whether the notice exists, the unit is addressed, the time is after the
issue and the action is new is decided there, in the partition's log order
(:class:`~pipeline.patrol.book.NoticeBook`), because only that partition knows the notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec
import numpy as np

from ..deadletter import Reason
from ..feeds.decode import Reject, epoch_ms, reason_of
from ..privacy import Pseudonymizer
from .wire import Ack, AckRecord, notice_partition

__all__ = ["RoutedAcks", "route_acks", "decode_ack_records"]

_DECODER = msgspec.json.Decoder(Ack)
_RECORD_DECODER = msgspec.json.Decoder(AckRecord)
_ENCODER = msgspec.json.Encoder()


class RoutedAcks(NamedTuple):
    """Valid acks as records: ``partitions[i]`` of alerts.normalized gets ``values[i]``
    (the ack in input position ``index[i]``); the rest are ``rejects``."""

    index: list[int]
    partitions: np.ndarray
    values: list[bytes]
    rejects: list[Reject]


def route_acks(
    values: Sequence[bytes],
    sources: Sequence[str],
    partitions: int,
    pseudonymizer: Pseudonymizer,
) -> RoutedAcks:
    """Validate the raw ``values`` of hotspots.acks (``sources[i]``: where each came from,
    topic/partition/offset) for a topic of ``partitions`` partitions."""
    rejects, acks, index = [], [], []
    for i, value in enumerate(values):  # loop per ack: a few per minute per station
        try:
            ack = _DECODER.decode(value)
        except msgspec.DecodeError as exc:
            rejects.append(Reject(i, reason_of(exc), f"not an ack: {exc}"))
            continue
        except UnicodeDecodeError as exc:
            rejects.append(Reject(i, Reason.MALFORMED_JSON, f"not an ack: {exc}"))
            continue
        if (ack.action == "false_alarm") != (ack.reason is not None):
            rejects.append(
                Reject(
                    i,
                    Reason.INVALID_VALUE,
                    "a false_alarm ack needs a `reason`, and only a false_alarm has one",
                )
            )
            continue
        if notice_partition(ack.notice_id) >= partitions:
            rejects.append(
                Reject(
                    i,
                    Reason.UNKNOWN_NOTICE,
                    f"notice {ack.notice_id} names a partition beyond the {partitions} of "
                    "alerts.normalized; check the notice id",
                )
            )
            continue
        acks.append(ack)
        index.append(i)
    at_ms = epoch_ms([a.at for a in acks]).tolist()
    officers = pseudonymizer.pseudonymize(
        "officer_id", np.array([a.officer_id for a in acks], dtype=object)
    ).tolist()
    records = [
        _ENCODER.encode(AckRecord(a.notice_id, a.unit, a.action, t, o, a.reason, sources[i]))
        for a, t, o, i in zip(acks, at_ms, officers, index, strict=True)
    ]
    routed = np.array([notice_partition(a.notice_id) for a in acks], np.int64)
    return RoutedAcks(index, routed, records, rejects)


def decode_ack_records(values: Sequence[bytes]) -> tuple[list[int], list[AckRecord], list[Reject]]:
    """Ack records read back from alerts.normalized: ``(positions, records, rejects)``; one
    this pipeline did not write is a ``malformed_record``."""
    kept, records, rejects = [], [], []
    for i, value in enumerate(values):  # loop per ack record
        try:
            records.append(_RECORD_DECODER.decode(value))
        except msgspec.DecodeError as exc:
            rejects.append(Reject(i, Reason.MALFORMED_RECORD, f"not an ack record: {exc}"))
            continue
        kept.append(i)
    return kept, records, rejects
