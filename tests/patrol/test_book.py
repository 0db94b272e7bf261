"""The notice book: notices from flags, the SLA timers on recorded time, acks refused with
their reasons, and the same events however the log is cut into polls."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.deadletter import Reason
from pipeline.outputs import FlagMessage
from pipeline.patrol import AckRecord, AckRefused, NoticeBook, PatrolParams, notice_id

MINUTE = 60_000
T0 = 1_764_000_000_000
PARAMS = PatrolParams()


def flag(status: str = "open", version: int = 1, at: int = T0, score: float = 10.0, **kw):
    return FlagMessage(
        flag_id="flg-00112233445566ff",
        version=version,
        status=status,
        boundary_ms=at,
        opened_ms=T0,
        lat=30.25,
        lon=120.15,
        radius_m=250.0,
        window_s=1800,
        cell_id=7,
        score=score,
        p_value=1e-6,
        gi_z=None,
        observed=12,
        expected=1.5,
        n_sources=2,
        source_counts={"camera": 8, "dispatch_110": 4},
        category_counts={"fight": 8},
        grid=3,
        first_event_ms=T0 - MINUTE,
        last_event_ms=T0,
        grid_code="G1",
        community_code="C1",
        street_code="S1",
        district_code="D1",
        station_id="PS1",
        **kw,
    )


NID = notice_id(1, "flg-00112233445566ff")


def ack(action="received", at=T0 + 3 * MINUTE, unit="PS1", reason=None) -> AckRecord:
    return AckRecord(NID, unit, action, at, "officer-pseudonym", reason, "acks/0/0")


def issued_book() -> NoticeBook:
    book = NoticeBook(1, PARAMS)
    (event,) = book.flags([flag()])
    assert (event.kind, event.notice_id, event.event_id) == ("issued", NID, f"{NID}/0")
    return book


def test_an_opened_flag_issues_a_notice_to_its_station_community_and_street():
    book = NoticeBook(1, PARAMS)
    (event,) = book.flags([flag()])
    assert event.notice_id == "ntc-1-00112233445566ff"
    assert event.addressed_to == ["PS1", "C1", "S1"]
    assert event.issued_ms == event.at_ms == T0 and event.state == "issued"
    assert (event.flag_id, event.flag_version, event.score, event.observed) == (
        "flg-00112233445566ff",
        1,
        10.0,
        12,
    )
    assert event.source_counts == {"camera": 8, "dispatch_110": 4}


def test_a_marked_rise_while_unacknowledged_raises_the_notice_a_small_one_does_not():
    book = issued_book()
    assert book.flags([flag("update", 2, T0 + MINUTE, score=14.0)]) == []
    (raised,) = book.flags([flag("update", 3, T0 + 2 * MINUTE, score=15.0)])
    assert (raised.kind, raised.flag_version, raised.score, raised.event_id) == (
        "raised",
        3,
        15.0,
        f"{NID}/1",
    )
    assert raised.issued_ms == T0  # the SLA clock does not restart
    assert not isinstance(book.apply(ack()), AckRefused)
    assert book.flags([flag("update", 4, T0 + 4 * MINUTE, score=100.0)]) == []


def test_acked_at_three_minutes_no_reminder_and_no_escalation():
    book = issued_book()
    assert book.due(T0 + 3 * MINUTE - 1) == []
    received = book.apply(ack(at=T0 + 3 * MINUTE))
    assert (received.kind, received.state, received.receipt_s, received.late) == (
        "received",
        "received",
        180.0,
        False,
    )
    assert received.unit == "PS1" and received.officer == "officer-pseudonym"
    assert book.due(T0 + 60 * MINUTE) == []


def test_never_acked_reminder_at_five_escalation_at_thirty_minutes_of_event_time():
    book = issued_book()
    assert book.due(T0 + 5 * MINUTE - 1) == []
    (reminder,) = book.due(T0 + 5 * MINUTE)
    assert (reminder.kind, reminder.at_ms, reminder.addressed_to[0]) == (
        "reminder",
        T0 + 5 * MINUTE,
        "PS1",
    )
    assert book.due(T0 + 29 * MINUTE) == []
    (escalated,) = book.due(T0 + 31 * MINUTE)
    assert (escalated.kind, escalated.at_ms) == ("escalated", T0 + 30 * MINUTE)
    assert escalated.addressed_to[:2] == ["D1", "city"]
    assert book.due(T0 + 600 * MINUTE) == []


def test_a_watermark_past_both_fires_both_in_due_order():
    book = issued_book()
    assert [e.kind for e in book.due(T0 + 40 * MINUTE)] == ["reminder", "escalated"]


def test_an_ack_after_the_escalation_is_a_late_receipt_and_the_district_may_ack():
    book = issued_book()
    book.due(T0 + 31 * MINUTE)
    late = book.apply(ack(at=T0 + 32 * MINUTE, unit="D1"))
    assert (late.kind, late.late, late.receipt_s) == ("received", True, 32 * 60.0)
    assert "D1" in late.addressed_to and "city" in late.addressed_to


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (msgspec.structs.replace(ack(), notice_id="ntc-1-ffffffffffffffff"), "unknown_notice"),
        (ack(unit="PS9"), "unit_not_responsible"),
        (ack(unit="D1"), "unit_not_responsible"),  # the district only after an escalation
        (ack(at=T0 - 1), "before_notice"),
    ],
)
def test_a_bad_ack_is_refused_with_its_reason(record, reason):
    book = issued_book()
    refused = book.apply(record)
    assert isinstance(refused, AckRefused) and refused.reason == Reason(reason)
    assert refused.detail


def test_a_repeated_or_superseded_action_is_a_duplicate():
    book = issued_book()
    assert book.apply(ack("dispatched")).kind == "dispatched"  # implies the receipt
    for action in ("received", "dispatched"):
        refused = book.apply(ack(action))
        assert refused.reason is Reason.DUPLICATE_ACK
    assert book.apply(ack("false_alarm", reason="drill")).reason == "drill"
    assert book.apply(ack("resolved")).reason is Reason.DUPLICATE_ACK
    assert book.due(T0 + 60 * MINUTE) == []  # received: no timer


def test_a_notice_is_forgotten_after_the_retention_and_its_acks_are_then_unknown():
    book = issued_book()
    book.due(T0 + 30 * MINUTE)
    assert len(book) == 1
    book.due(T0 + 30 * MINUTE + PARAMS.retention_ms)
    assert len(book) == 0
    assert book.apply(ack()).reason is Reason.UNKNOWN_NOTICE


def test_a_restored_book_continues_as_the_original():
    book = issued_book()
    book.due(T0 + 6 * MINUTE)
    restored = NoticeBook.restore(book.snapshot(), 1, PARAMS)
    assert restored.snapshot() == book.snapshot()
    assert book.due(T0 + 31 * MINUTE) == restored.due(T0 + 31 * MINUTE)
    with pytest.raises(ValueError, match="partition 1"):
        NoticeBook.restore(book.snapshot(), 2, PARAMS)
    with pytest.raises(ValueError, match="not a notice book"):
        NoticeBook.restore(b"garbage", 1, PARAMS)


# --- the same log, cut anywhere, gives the same events -----------------------------------------


def _log() -> list[tuple]:
    """A partition's log as the step hands it over: flag versions with the watermark after
    them, marks moving the watermark, acks."""
    return [
        ("flags", [flag()], T0),
        ("mark", T0 + 2 * MINUTE),
        ("flags", [flag("update", 2, T0 + 3 * MINUTE, score=20.0)], T0 + 3 * MINUTE),
        ("mark", T0 + 6 * MINUTE),
        ("ack", ack("dispatched", unit="C1", at=T0 + 4 * MINUTE)),
        ("ack", ack("dispatched", at=T0 + 7 * MINUTE)),
        ("mark", T0 + 40 * MINUTE),
        ("ack", ack("arrived", at=T0 + 41 * MINUTE)),
    ]


def _replay(cuts: set[int]) -> list:
    """The log through a book, polls ending after the items in ``cuts`` (the step checks the
    timers at the end of each poll and before each ack)."""
    book, events, watermark = NoticeBook(1, PARAMS), [], -(2**63)
    for i, item in enumerate(_log()):
        if item[0] == "flags":
            events += book.flags(item[1])
            watermark = item[2]
        elif item[0] == "mark":
            watermark = item[1]
        else:
            events += book.due(watermark)
            events.append(book.apply(item[1]))
        if i in cuts:
            events += book.due(watermark)
    return events + book.due(watermark)


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, len(_log()) - 1)))
def test_the_same_log_gives_the_same_events_wherever_polls_cut_it(cuts):
    assert _replay(cuts) == _replay(set())


def test_the_log_tells_the_sla_story():
    """The reminder at 5 minutes fires before the receipt that came in the log after the
    watermark passed it, though the receipt's own time was 4 minutes."""
    told = [
        e.reason.value if isinstance(e, AckRefused) else (e.kind, e.event_id, e.at_ms)
        for e in _replay(set())
    ]
    assert told == [
        ("issued", f"{NID}/0", T0),
        ("raised", f"{NID}/1", T0 + 3 * MINUTE),
        ("reminder", f"{NID}/2", T0 + 5 * MINUTE),
        ("dispatched", f"{NID}/3", T0 + 4 * MINUTE),
        "duplicate_ack",
        ("arrived", f"{NID}/4", T0 + 41 * MINUTE),
    ]


# --- false alarms quiet the cell ---------------------------------------------------------------

HOUR = 60 * MINUTE


def reflag(status="open", version=1, at=T0 + HOUR, score=10.0, flag_id="flg-aaaaaaaaaaaaaaaa"):
    """A later flag of the same cell (``cell_id`` 7) as :func:`flag`."""
    return msgspec.structs.replace(flag(status, version, at, score), flag_id=flag_id, opened_ms=at)


def dismissed_book(at=T0 + 10 * MINUTE) -> NoticeBook:
    """A book whose notice (score 10) a station called a false alarm at ``at``."""
    book = issued_book()
    dismissed = book.apply(ack("false_alarm", at=at, reason="no_incident"))
    assert (dismissed.kind, dismissed.cell_id, dismissed.reason) == (
        "false_alarm",
        7,
        "no_incident",
    )
    book.flags(book.screen([flag("close", 2, T0 + 20 * MINUTE)]))
    return book


def test_a_false_alarm_holds_a_new_flag_of_the_same_cell_for_two_hours_of_event_time():
    book = dismissed_book()
    held = [reflag(), reflag("update", 2, T0 + 2 * HOUR, score=14.9)]
    assert book.screen(held) == [] and book.held() == 1
    assert book.flags([]) == []
    # a flag of another cell is not held
    other = msgspec.structs.replace(reflag(flag_id="flg-bbbbbbbbbbbbbbbb"), cell_id=8)
    assert book.screen([other]) == [other]
    # the hold ends 2 h after the ack's own time (T0 + 10 min): the flag comes out as opened
    (out,) = book.screen([reflag("update", 3, T0 + 2 * HOUR + 10 * MINUTE, score=11.0)])
    assert (out.status, out.version, out.flag_id) == ("open", 3, "flg-aaaaaaaaaaaaaaaa")
    (issued,) = book.flags([out])
    assert issued.kind == "issued" and issued.flag_version == 3 and book.held() == 0
    assert book.screen([reflag("update", 4, T0 + 3 * HOUR)])[0].status == "update"


def test_a_rise_beyond_the_margin_flags_the_cell_again_within_the_hold():
    book = dismissed_book()
    assert book.screen([reflag(score=12.0)]) == []
    (out,) = book.screen([reflag("update", 2, T0 + HOUR + MINUTE, score=15.0)])  # 1.5 x 10
    assert out.status == "open" and [e.kind for e in book.flags([out])] == ["issued"]
    # a flag opening with the risen score is not held at all
    book = dismissed_book()
    assert book.screen([reflag(score=15.0)]) == [reflag(score=15.0)]


def test_a_held_flag_that_closes_is_never_published_and_a_flag_after_the_hold_is_not_held():
    book = dismissed_book()
    assert book.screen([reflag(), reflag("close", 2, T0 + HOUR + 5 * MINUTE)]) == []
    assert book.held() == 0
    late = reflag(at=T0 + 10 * MINUTE + PARAMS.suppress_ms, flag_id="flg-cccccccccccccccc")
    assert book.screen([late]) == [late]


def test_other_actions_do_not_quiet_the_cell():
    book = issued_book()
    book.apply(ack("resolved", at=T0 + 10 * MINUTE))
    book.flags(book.screen([flag("close", 2, T0 + 20 * MINUTE)]))
    assert book.screen([reflag()]) == [reflag()]


def test_a_restored_book_keeps_its_holds():
    book = dismissed_book()
    book.screen([reflag()])
    restored = NoticeBook.restore(book.snapshot(), 1, PARAMS)
    assert restored.snapshot() == book.snapshot() and restored.held() == 1
    released = reflag("update", 2, T0 + HOUR + MINUTE, score=16.0)
    assert restored.screen([released]) == book.screen([released])


def _quieted_log() -> list[tuple]:
    """A log where the false alarm comes between the flag versions: before it, the cell's
    versions are out; after it, a new flag of the cell is held until it rises."""
    return [
        ("flags", [flag()], T0),
        ("mark", T0 + 3 * MINUTE),
        ("ack", ack("false_alarm", at=T0 + 4 * MINUTE, reason="sensor_fault")),
        ("flags", [flag("close", 2, T0 + 20 * MINUTE)], T0 + 20 * MINUTE),
        ("flags", [reflag(at=T0 + 30 * MINUTE)], T0 + 30 * MINUTE),
        ("mark", T0 + 40 * MINUTE),
        ("flags", [reflag("update", 2, T0 + 50 * MINUTE, score=20.0)], T0 + 50 * MINUTE),
    ]


def _replay_quieted(cuts: set[int]) -> list:
    """:func:`_replay` of :func:`_quieted_log`, a restore from a snapshot at every cut, with
    the published flag versions."""
    book, out, watermark = NoticeBook(1, PARAMS), [], -(2**63)
    for i, item in enumerate(_quieted_log()):
        if item[0] == "flags":
            shown = book.screen(item[1])
            out += [(f.flag_id, f.version, f.status) for f in shown] + book.flags(shown)
            watermark = item[2]
        elif item[0] == "mark":
            watermark = item[1]
        else:
            out += book.due(watermark)
            out.append(book.apply(item[1]))
        if i in cuts:
            out += book.due(watermark)
            book = NoticeBook.restore(book.snapshot(), 1, PARAMS)
    return out + book.due(watermark)


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, len(_quieted_log()) - 1)))
def test_a_false_alarm_holds_the_same_flags_wherever_polls_and_restarts_cut_the_log(cuts):
    told = _replay_quieted(cuts)
    assert told == _replay_quieted(set())
    published = [t for t in told if isinstance(t, tuple)]
    assert published == [
        ("flg-00112233445566ff", 1, "open"),
        ("flg-00112233445566ff", 2, "close"),
        ("flg-aaaaaaaaaaaaaaaa", 2, "open"),  # its version 1 was held, 2 rose past 15
    ]
    assert [e.kind for e in told if not isinstance(e, tuple)] == [
        "issued",
        "false_alarm",
        "issued",
    ]
