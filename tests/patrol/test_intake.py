"""The ack intake: valid acks become pseudonymised records for their notice's partition;
malformed ones are refused with the decoder's reason, and nothing else is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import numpy as np
import pytest

from pipeline.deadletter import Reason
from pipeline.patrol import AckRecord, decode_ack_records, route_acks
from pipeline.privacy import Pseudonymizer

KEY = b"test-key-0123456789abcdef"
NOTICE = "ntc-1-00112233445566ff"


def ack(**changes) -> bytes:
    base = {
        "notice_id": NOTICE,
        "unit": "PS1",
        "action": "received",
        "at": "2026-12-06T10:03:00+08:00",
        "officer_id": "officer-0042",
    }
    return json.dumps({**base, **changes}).encode()


def routed(values: list[bytes], partitions: int = 2):
    sources = [f"acks/0/{i}" for i in range(len(values))]
    return route_acks(values, sources, partitions, Pseudonymizer(KEY))


def test_a_valid_ack_goes_to_its_notice_partition_with_the_officer_pseudonymised():
    out = routed([ack(), ack(action="false_alarm", reason="drill", at=1_765_000_000_000)])
    assert out.rejects == [] and out.index == [0, 1]
    assert out.partitions.tolist() == [1, 1]
    first, second = (msgspec.json.decode(v, type=AckRecord) for v in out.values)
    at = datetime(2026, 12, 6, 2, 3, tzinfo=UTC)  # 10:03 in Shanghai
    assert first.at_ms == int(at.timestamp() * 1000) and first.source == "acks/0/0"
    assert (
        first.officer
        == Pseudonymizer(KEY).pseudonymize("officer_id", np.array(["officer-0042"], dtype=object))[
            0
        ]
    )
    assert b"officer-0042" not in b"".join(out.values)
    assert second.reason == "drill" and second.at_ms == 1_765_000_000_000


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", Reason.MALFORMED_JSON),
        (b"\xff\xfe", Reason.MALFORMED_JSON),
        (json.dumps({"notice_id": NOTICE, "unit": "PS1", "at": 1}).encode(), "missing_field"),
        (ack(at="yesterday"), Reason.INVALID_VALUE),
        (ack(unit=7), Reason.WRONG_TYPE),
        (ack(action="lunch"), Reason.INVALID_VALUE),
        (ack(notice_id="flg-00112233445566ff"), Reason.INVALID_VALUE),
        (ack(action="false_alarm"), Reason.INVALID_VALUE),  # no reason
        (ack(reason="why not"), Reason.INVALID_VALUE),  # a reason without a false alarm
        (ack(action="false_alarm", reason="the caller's name"), Reason.INVALID_VALUE),  # a code
        (ack(notice_id="ntc-7-00112233445566ff"), Reason.UNKNOWN_NOTICE),  # no partition 7
    ],
)
def test_a_malformed_ack_is_refused_and_the_good_one_after_it_goes_on(value, reason):
    out = routed([value, ack()])
    assert [(r.index, r.reason) for r in out.rejects] == [(0, Reason(reason))]
    assert out.index == [1] and len(out.values) == 1


def test_ack_records_not_written_by_the_intake_are_malformed_records():
    good = routed([ack()]).values[0]
    kept, records, rejects = decode_ack_records([b"{}", good])
    assert kept == [1] and records[0].notice_id == NOTICE
    assert [(r.index, r.reason) for r in rejects] == [(0, Reason.MALFORMED_RECORD)]
