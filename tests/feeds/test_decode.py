"""Feed decoding: contracted fields, event times, reject reasons and their input slots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.alerts import CATEGORIES, CATEGORY_CODE, SOURCES
from pipeline.deadletter import Reason
from pipeline.feeds.decode import FEEDS, decode_batch, epoch_ms

T_MS = 1_714_528_800_000  # 2024-05-01T02:00:00Z
T_ISO = "2024-05-01T10:00:00+08:00"  # the same instant

GOOD = {
    "alarm_phone": {
        "event_id": "ev-1",
        "device_id": "dev-1",
        "household_id": "hh-1",
        "trigger": "panic",
        "triggered_at": T_ISO,
        "lat": 31.2051,
        "lon": 121.4023,
        "caller_phone": "13800138000",
        "address": "Room 301, 12 Example Rd",
    },
    "dispatch_110": {
        "incident_id": "inc-1",
        "received_at": T_MS,
        "category": "robbery",
        "priority": 2,
        "lat": 31.2031,
        "lon": 121.4077,
        "station_id": "PS7",
        "caller_phone": "139 0000 1111",
        "summary": "caller reports a robbery",
    },
    "camera": {
        "alert_id": "cam-a-1",
        "camera_id": "cam-1",
        "detected_at": T_ISO,
        "kind": "fight",
        "confidence": 0.75,
        "lat": 31.2012,
        "lon": 121.4034,
    },
    "grid_report": {
        "report_id": "rep-1",
        "reporter_id": "w-1",
        "reported_at": T_MS,
        "category": "dispute",
        "status": "dispatched",
        "grid_code": "C1G1",
        "lat": 31.2022,
        "lon": 121.4011,
        "parent_report_id": "rep-0",
    },
}
TIME_FIELD = {name: spec.time_field for name, spec in FEEDS.items()}


def enc(obj) -> bytes:
    return json.dumps(obj).encode()


def msg(source: str, **changes) -> bytes:
    """GOOD[source] with fields changed; a value of ``...`` removes the field."""
    obj = {**GOOD[source], **changes}
    return enc({k: v for k, v in obj.items() if v is not ...})


def test_feeds_are_keyed_like_sources_in_order():
    assert tuple(FEEDS) == SOURCES
    assert all(spec.name == name for name, spec in FEEDS.items())


def test_alarm_phone_happy_path():
    b = decode_batch(FEEDS["alarm_phone"], [msg("alarm_phone")])
    assert b.source == "alarm_phone" and len(b) == 1 and b.rejects == []
    assert b.index.tolist() == [0]
    assert b.source_id.tolist() == ["ev-1"]
    assert b.event_ms.tolist() == [T_MS]
    assert b.lat.tolist() == [31.2051] and b.lon.tolist() == [121.4023]
    assert b.category.tolist() == [CATEGORY_CODE["panic"]]
    assert set(b.columns) == {"device_id", "household_id", "caller_phone"}
    assert b.columns["device_id"].tolist() == ["dev-1"]
    assert b.columns["household_id"].tolist() == ["hh-1"]
    assert b.columns["caller_phone"].tolist() == ["13800138000"]
    assert b.unknown_enum == 0


def test_dispatch_110_happy_path():
    b = decode_batch(
        FEEDS["dispatch_110"],
        [
            msg("dispatch_110"),
            msg("dispatch_110", incident_id="inc-2", station_id=..., caller_phone=..., priority=4),
        ],
    )
    assert b.index.tolist() == [0, 1] and b.rejects == []
    assert b.source_id.tolist() == ["inc-1", "inc-2"]
    assert b.event_ms.tolist() == [T_MS, T_MS]
    assert b.category.tolist() == [CATEGORY_CODE["robbery"]] * 2
    assert set(b.columns) == {"priority", "station_id", "caller_phone"}  # no "summary"
    assert b.columns["priority"].tolist() == [2, 4]
    assert b.columns["station_id"].tolist() == ["PS7", None]
    assert b.columns["caller_phone"].tolist() == ["139 0000 1111", None]


def test_camera_happy_path():
    b = decode_batch(FEEDS["camera"], [msg("camera")])
    assert b.source_id.tolist() == ["cam-a-1"] and b.event_ms.tolist() == [T_MS]
    assert b.category.tolist() == [CATEGORY_CODE["fight"]]
    assert set(b.columns) == {"camera_id", "confidence"}
    assert b.columns["camera_id"].tolist() == ["cam-1"]
    assert b.columns["confidence"].tolist() == [0.75]
    assert (b.lat.tolist(), b.lon.tolist()) == ([31.2012], [121.4034])


def test_grid_report_happy_path_and_optional_coordinates():
    values = [
        msg("grid_report"),
        msg(
            "grid_report",
            report_id="rep-2",
            lat=...,
            lon=...,
            parent_report_id=...,
            status="reported",
        ),
    ]
    b = decode_batch(FEEDS["grid_report"], values)
    assert b.index.tolist() == [0, 1] and b.rejects == []
    assert b.source_id.tolist() == ["rep-1", "rep-2"]
    assert set(b.columns) == {"reporter_id", "status", "grid_code", "parent_report_id"}
    assert b.columns["status"].tolist() == ["dispatched", "reported"]
    assert b.columns["grid_code"].tolist() == ["C1G1", "C1G1"]
    assert b.columns["parent_report_id"].tolist() == ["rep-0", None]
    assert b.lat[0] == 31.2022 and np.isnan(b.lat[1]) and np.isnan(b.lon[1])
    assert b.unknown_enum == 0


@pytest.mark.parametrize(
    "when",
    [
        T_MS,
        "2024-05-01T10:00:00+08:00",
        "2024-05-01T02:00:00Z",
        "2024-05-01T02:00:00+00:00",
        "2024-04-30T21:00:00-05:00",
        "2024-05-01T07:30:00.000+05:30",
    ],
)
def test_iso_with_offset_and_epoch_ms_give_the_same_instant(when):
    for source in FEEDS:
        b = decode_batch(FEEDS[source], [msg(source, **{TIME_FIELD[source]: when})])
        assert b.event_ms.tolist() == [T_MS], source


def test_fractional_seconds_keep_milliseconds():
    b = decode_batch(
        FEEDS["camera"],
        [
            msg("camera", detected_at="2024-05-01T10:00:00.123+08:00"),
            msg("camera", detected_at=T_MS + 123),
        ],
    )
    assert b.event_ms.tolist() == [T_MS + 123, T_MS + 123]


@pytest.mark.parametrize("naive", ["2024-05-01T10:00:00", "2024-05-01T10:00:00.5"])
def test_naive_iso_time_is_rejected(naive):
    for source in FEEDS:
        b = decode_batch(FEEDS[source], [msg(source, **{TIME_FIELD[source]: naive})])
        assert len(b) == 0
        assert [(r.index, r.reason) for r in b.rejects] == [(0, Reason.INVALID_VALUE)], source
        assert TIME_FIELD[source] in b.rejects[0].detail


def test_epoch_ms_of_a_mix_of_ints_and_aware_datetimes():
    cst = timezone(timedelta(hours=8))
    times = [
        T_MS,
        datetime(2024, 5, 1, 10, tzinfo=cst),
        datetime(2024, 5, 1, 2, 0, 0, 1000, UTC),
        0,
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
    out = epoch_ms(times)
    assert out.dtype == np.int64
    assert out.tolist() == [T_MS, T_MS, T_MS + 1, 0, 0]
    assert epoch_ms([]).tolist() == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (msg("dispatch_110")[:-7], Reason.MALFORMED_JSON),  # truncated
        (b'{"incident_id": "inc-1",', Reason.MALFORMED_JSON),
        (b"\x00\x01garbage\xff", Reason.MALFORMED_JSON),
        (b"", Reason.MALFORMED_JSON),
        (b"not json", Reason.MALFORMED_JSON),
        (
            msg("dispatch_110", station_id="PS\u00e9").replace(b"\\u00e9", b"\xe9"),
            Reason.MALFORMED_JSON,
        ),  # latin-1 byte inside a string: not UTF-8
        (
            msg("dispatch_110", summary="\u00e9").replace(b"\\u00e9", "\u00e9".encode("utf-16-le")),
            Reason.MALFORMED_JSON,
        ),
        (msg("dispatch_110", priority=...), Reason.MISSING_FIELD),
        (msg("dispatch_110", incident_id=...), Reason.MISSING_FIELD),
        (msg("dispatch_110", received_at=...), Reason.MISSING_FIELD),
        (msg("dispatch_110", lat=...), Reason.MISSING_FIELD),
        (msg("dispatch_110", priority="1"), Reason.WRONG_TYPE),
        (msg("dispatch_110", priority=1.5), Reason.WRONG_TYPE),
        (msg("dispatch_110", lat="31.2"), Reason.WRONG_TYPE),
        (msg("dispatch_110", lon=None), Reason.WRONG_TYPE),
        (msg("dispatch_110", incident_id=42), Reason.WRONG_TYPE),
        (msg("dispatch_110", received_at=1.5e12), Reason.WRONG_TYPE),
        (msg("dispatch_110", received_at=True), Reason.WRONG_TYPE),
        (b"[]", Reason.WRONG_TYPE),
        (b"null", Reason.WRONG_TYPE),
        (msg("dispatch_110", priority=9), Reason.INVALID_VALUE),
        (msg("dispatch_110", priority=0), Reason.INVALID_VALUE),
        (msg("dispatch_110", incident_id=""), Reason.INVALID_VALUE),
        (msg("dispatch_110", incident_id="x" * 257), Reason.INVALID_VALUE),
        (msg("dispatch_110", received_at="yesterday"), Reason.INVALID_VALUE),
    ],
)
def test_reject_reasons(value, reason):
    b = decode_batch(FEEDS["dispatch_110"], [msg("dispatch_110"), value, msg("dispatch_110")])
    assert [(r.index, r.reason) for r in b.rejects] == [(1, reason)]
    assert b.index.tolist() == [0, 2]


@pytest.mark.parametrize("confidence", [1.5, -0.01])
def test_confidence_outside_0_1_is_an_invalid_value(confidence):
    b = decode_batch(FEEDS["camera"], [msg("camera", confidence=confidence)])
    assert [(r.index, r.reason) for r in b.rejects] == [(0, Reason.INVALID_VALUE)]
    assert "confidence" in b.rejects[0].detail


@pytest.mark.parametrize("source", list(GOOD))
def test_empty_source_id_is_an_invalid_value(source):
    id_field = FEEDS[source].id_field
    b = decode_batch(FEEDS[source], [msg(source, **{id_field: ""})])
    assert [(r.index, r.reason) for r in b.rejects] == [(0, Reason.INVALID_VALUE)]


def test_epoch_ms_outside_int64_is_rejected_not_raised():
    """Regression: an integer time beyond int64 decoded, then overflowed the whole batch."""
    values = [
        msg("camera", alert_id="a", detected_at=2**63),
        msg("camera", alert_id="b"),
        msg("camera", alert_id="c", detected_at=-(2**63) - 1),
        msg("camera", alert_id="d", detected_at=10**30),
    ]
    b = decode_batch(FEEDS["camera"], values)
    assert b.source_id.tolist() == ["b"]
    assert [(r.index, r.reason) for r in b.rejects] == [
        (0, Reason.INVALID_VALUE),
        (2, Reason.INVALID_VALUE),
        (3, Reason.INVALID_VALUE),
    ]


def test_rejects_carry_their_input_index_and_goods_stay_in_order():
    src = "camera"
    values = [
        b"{",  # 0 malformed
        msg(src, alert_id="g1"),  # 1
        msg(src, alert_id="g2"),  # 2
        msg(src, confidence=1.5),  # 3 invalid
        msg(src, kind=...),  # 4 missing
        msg(src, alert_id="g3"),  # 5
        msg(src, lat="north"),  # 6 wrong type
        msg(src, alert_id="g4", detected_at=T_MS + 4),  # 7
        b"\xff",  # 8 malformed (not UTF-8)
    ]
    b = decode_batch(FEEDS[src], values)
    assert b.index.tolist() == [1, 2, 5, 7]
    assert b.source_id.tolist() == ["g1", "g2", "g3", "g4"]
    assert b.event_ms.tolist() == [T_MS, T_MS, T_MS, T_MS + 4]
    assert [(r.index, r.reason) for r in b.rejects] == [
        (0, Reason.MALFORMED_JSON),
        (3, Reason.INVALID_VALUE),
        (4, Reason.MISSING_FIELD),
        (6, Reason.WRONG_TYPE),
        (8, Reason.MALFORMED_JSON),
    ]


def _bad(source: str, pick: int) -> tuple[bytes, Reason]:
    """The ``pick``-th kind of bad value of a feed, and the reason it must get."""
    id_field, time_field = FEEDS[source].id_field, TIME_FIELD[source]
    return [
        (b"{", Reason.MALFORMED_JSON),
        (b"\xfe\xff", Reason.MALFORMED_JSON),
        (msg(source, **{id_field: "\u00e9"}).replace(b"\\u00e9", b"\xe9"), Reason.MALFORMED_JSON),
        (msg(source, **{id_field: ...}), Reason.MISSING_FIELD),
        (msg(source, **{id_field: 42}), Reason.WRONG_TYPE),
        (msg(source, **{time_field: 1.5}), Reason.WRONG_TYPE),
        (msg(source, **{id_field: ""}), Reason.INVALID_VALUE),
        (msg(source, **{time_field: "2024-05-01T10:00:00"}), Reason.INVALID_VALUE),
        # nested beyond the decoder's limit (the fuzz finding of issue 22): alone, at the top,
        # and inside an unknown field of an otherwise good value
        (b'{"a":' * DEEP + b"1" + b"}" * DEEP, Reason.MALFORMED_JSON),
        (
            msg(source, vendor=...).replace(
                b"{", b'{"vendor":' + b"[" * DEEP + b"]" * DEEP + b",", 1
            ),
            Reason.MALFORMED_JSON,
        ),
    ][pick]


#: how deeply the fuzzed object that used to fail its whole batch was nested
DEEP = 10_000
#: kinds of bad value _bad makes
BAD_KINDS = 10


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    source=st.sampled_from(list(GOOD)),
    plan=st.lists(st.one_of(st.none(), st.integers(0, BAD_KINDS - 1)), max_size=40),
)
def test_random_mix_ok_indices_are_exactly_the_good_ones(source, plan):
    """None in ``plan`` is a good value (with a unique id), an int picks a bad one."""
    id_field = FEEDS[source].id_field
    values, want_ok, want_rejects = [], [], []
    for i, pick in enumerate(plan):
        if pick is None:
            values.append(msg(source, **{id_field: f"id-{i}"}))
            want_ok.append(i)
        else:
            raw, reason = _bad(source, pick)
            values.append(raw)
            want_rejects.append((i, reason))
    b = decode_batch(FEEDS[source], values)
    assert b.index.tolist() == want_ok
    assert b.source_id.tolist() == [f"id-{i}" for i in want_ok]
    assert [(r.index, r.reason) for r in b.rejects] == want_rejects
    assert len(b.event_ms) == len(b.lat) == len(b.category) == len(want_ok)


def test_extra_fields_are_ignored():
    extra = {"vendor": "acme", "nested": {"a": [1, 2]}, "lat_gcj": 1.0}
    b = decode_batch(FEEDS["camera"], [enc({**GOOD["camera"], **extra})])
    assert b.rejects == [] and b.source_id.tolist() == ["cam-a-1"]
    assert set(b.columns) == {"camera_id", "confidence"}


def test_unknown_enum_becomes_other_and_is_counted():
    values = [
        msg("camera", kind="smoke"),
        msg("camera", kind="fight"),
        msg("camera", kind="smoke"),
        msg("camera", kind="FIGHT"),
    ]
    b = decode_batch(FEEDS["camera"], values)
    assert b.rejects == []
    assert [CATEGORIES[c] for c in b.category] == ["other", "fight", "other", "other"]
    assert b.unknown_enum == 3


def test_other_counts_as_unknown_only_where_the_feed_does_not_define_it():
    alarm = decode_batch(FEEDS["alarm_phone"], [msg("alarm_phone", trigger="other")])
    dispatch = decode_batch(FEEDS["dispatch_110"], [msg("dispatch_110", category="other")])
    assert CATEGORIES[alarm.category[0]] == CATEGORIES[dispatch.category[0]] == "other"
    assert (alarm.unknown_enum, dispatch.unknown_enum) == (1, 0)


def test_unknown_grid_report_status_becomes_reported_and_is_counted():
    values = [
        msg("grid_report", status="escalated"),
        msg("grid_report", status="resolved"),
        msg("grid_report", status="escalated", category="noise"),
    ]
    b = decode_batch(FEEDS["grid_report"], values)
    assert b.columns["status"].tolist() == ["reported", "resolved", "reported"]
    assert [CATEGORIES[c] for c in b.category] == ["dispute", "dispute", "other"]
    assert b.unknown_enum == 3  # two statuses and one category


@pytest.mark.parametrize("source", list(GOOD))
def test_empty_and_all_bad_batches(source):
    empty = decode_batch(FEEDS[source], [])
    assert len(empty) == 0 and empty.rejects == []
    bad = decode_batch(FEEDS[source], [b"", b"{}", b"[1]"])
    assert len(bad) == 0 and [r.index for r in bad.rejects] == [0, 1, 2]
    assert [r.reason for r in bad.rejects] == [
        Reason.MALFORMED_JSON,
        Reason.MISSING_FIELD,
        Reason.WRONG_TYPE,
    ]


@pytest.mark.parametrize("source", list(GOOD))
def test_a_value_nested_10000_deep_is_malformed_json_and_its_batch_still_decodes(source):
    """Regression (issue 22's fuzzing): RecursionError failed the whole batch, which then
    ended as internal_error one by one."""
    id_field = FEEDS[source].id_field
    deep_object = b'{"a":' * DEEP + b"1" + b"}" * DEEP
    deep_array = b"[" * DEEP + b"]" * DEEP
    values = [msg(source, **{id_field: "id-0"}), deep_object, deep_array]
    values.append(msg(source, **{id_field: "id-3"}))
    b = decode_batch(FEEDS[source], values)
    assert b.source_id.tolist() == ["id-0", "id-3"]
    assert [(r.index, r.reason) for r in b.rejects] == [
        (1, Reason.MALFORMED_JSON),
        (2, Reason.WRONG_TYPE),  # an array where an object belongs: refused before descending
    ]
    assert "nested too deeply" in b.rejects[0].detail


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    source=st.sampled_from(list(GOOD)),
    noise=st.lists(
        st.one_of(
            st.binary(max_size=64),
            _JSON.map(lambda v: json.dumps(v).encode()),
            st.integers(1, 3 * DEEP).map(lambda d: b"[" * d + b"]" * d),
            st.integers(1, 3 * DEEP).map(lambda d: b'{"k":' * d + b"0" + b"}" * d),
        ),
        max_size=12,
    ),
)
def test_fuzzed_values_never_raise_and_never_cost_a_good_one(source, noise):
    """Fuzz classes: random bytes, random JSON, deep arrays and deep objects, each between
    good values. Every good value decodes; every other is a reject with a reason."""
    id_field = FEEDS[source].id_field
    values, good = [], []
    for i, junk in enumerate(noise):
        values.append(msg(source, **{id_field: f"id-{i}"}))
        good.append(f"id-{i}")
        values.append(junk)
    b = decode_batch(FEEDS[source], values)
    decoded = b.source_id.tolist()
    assert [d for d in decoded if d in set(good)] == good  # all of them, in input order
    assert len(b) + len(b.rejects) == len(values)
    assert all(isinstance(r.reason, Reason) for r in b.rejects)
