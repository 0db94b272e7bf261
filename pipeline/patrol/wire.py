"""The patrol loop's wire formats: acknowledgements in, notice events out.

- :class:`Ack`: what a station's client (or ``hotspot ack``) sends on ``hotspots.acks``, JSON,
  keyed by notice id. The officer id is in clear there, as a feed's personal fields are.
- :class:`AckRecord`: the same ack once the intake validated it and replaced the officer id by
  its pseudonym, as a record on the ``alerts.normalized`` partition that owns the notice, keyed
  :data:`ACK_KEY` (as watermark marks are keyed ``hotspot.watermark``), so the correlate stage
  applies it in that partition's log order, between the alerts and marks around it.
- :class:`NoticeEvent`: one step of a notice's life on ``hotspots.notices``, keyed by the unit it
  is addressed to first (the station; the district for an escalation).

A notice id names the partition of ``alerts.normalized`` that owns the notice's flag
(``ntc-<partition>-<flag hash>``): the intake routes an ack by its id alone, with no lookup.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from ..feeds.wire import EventTime

__all__ = [
    "ACK_KEY",
    "ACTIONS",
    "FALSE_ALARM_REASONS",
    "Ack",
    "AckRecord",
    "EventKind",
    "NoticeEvent",
    "encode_ack",
    "notice_id",
    "notice_partition",
]

#: the key of every ack record on alerts.normalized (envelope records carry none)
ACK_KEY = b"hotspot.ack"

#: an ack's actions, in the order a notice goes through them; the last two both end it
ACTIONS = ("received", "dispatched", "arrived", "resolved", "false_alarm")
Action = Literal["received", "dispatched", "arrived", "resolved", "false_alarm"]
#: why a unit calls a notice a false alarm
FALSE_ALARM_REASONS = ("no_incident", "sensor_fault", "duplicate_report", "drill", "other")
FalseAlarmReason = Literal["no_incident", "sensor_fault", "duplicate_report", "drill", "other"]
EventKind = Literal[
    "issued",
    "raised",
    "reminder",
    "escalated",
    "received",
    "dispatched",
    "arrived",
    "resolved",
    "false_alarm",
]

_NOTICE_ID = re.compile(r"^ntc-(\d{1,5})-([0-9a-f]{16})$")
NoticeId = Annotated[
    str,
    msgspec.Meta(
        pattern=_NOTICE_ID.pattern,
        description="The notice acknowledged, as it came on hotspots.notices "
        "(ntc-<partition>-<16 hex digits>).",
    ),
]
UnitCode = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        description="The acting unit: the notice's police station, community or street code "
        "(after an escalation also its district).",
    ),
]


def notice_id(partition: int, flag_id: str) -> str:
    """The id of the notice of ``flag_id``, owned by ``partition`` of alerts.normalized (flag
    ids are ``flg-`` and 16 hex digits, deterministic: a replay gives the same notice ids).

    >>> notice_id(3, "flg-00112233445566ff")
    'ntc-3-00112233445566ff'
    """
    return f"ntc-{partition}-{flag_id.removeprefix('flg-')}"


def notice_partition(value: str) -> int | None:
    """The partition a notice id names, or None if it is not a notice id.

    >>> notice_partition("ntc-3-00112233445566ff"), notice_partition("flg-00112233445566ff")
    (3, None)
    """
    found = _NOTICE_ID.match(value)
    return None if found is None else int(found.group(1))


class Ack(msgspec.Struct, frozen=True, gc=False):
    """An acknowledgement on ``hotspots.acks`` (JSON; keyed by notice id). Extra fields are
    ignored."""

    notice_id: NoticeId
    unit: UnitCode
    action: Annotated[
        Action,
        msgspec.Meta(
            description="What the unit did: received (the SLA's receipt), dispatched, arrived, "
            "resolved, or false_alarm (needs a reason). Each at most once, in this order; a "
            "later one implies the earlier (a first `dispatched` is also the receipt)."
        ),
    ]
    at: EventTime
    officer_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=256,
                description="The acting officer's id: personal, pseudonymised before anything "
                "is published or stored.",
            ),
        ]
        | None
    ) = None
    reason: (
        Annotated[
            FalseAlarmReason,
            msgspec.Meta(
                description="Why it is a false alarm (required with false_alarm, refused "
                "otherwise). A code, not free text: free text may name people, and nothing "
                "personal may reach an output topic in clear."
            ),
        ]
        | None
    ) = None


def encode_ack(
    notice: str,
    unit: str,
    action: str,
    at_ms: int,
    officer_id: str | None = None,
    reason: str | None = None,
) -> bytes:
    """An ack's value for hotspots.acks, checked as the intake will check it; ValueError
    names the field that would be refused."""
    fields = {"notice_id": notice, "unit": unit, "action": action, "at": at_ms}
    fields |= {"officer_id": officer_id} if officer_id is not None else {}
    fields |= {"reason": reason} if reason is not None else {}
    value = msgspec.json.encode(fields)
    try:
        msgspec.json.decode(value, type=Ack)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from exc
    if (action == "false_alarm") != (reason is not None):
        raise ValueError("a false_alarm needs a reason, and only a false_alarm has one")
    return value


class AckRecord(msgspec.Struct, frozen=True, gc=False):
    """A validated ack on alerts.normalized, keyed ``hotspot.ack``: the officer id is its
    pseudonym; ``source`` names the hotspots.acks record it came from (topic/partition/offset)."""

    notice_id: str
    unit: str
    action: Action
    at_ms: int
    officer: str | None
    reason: str | None
    source: str


class NoticeEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a notice on ``hotspots.notices``, keyed by ``addressed_to[0]``.

    ``event_id`` is the notice id and the event's number within the notice: the same log gives
    the same ids (an idempotency key for whoever delivers them). ``at_ms`` is event time: the
    flag's boundary (issued, raised), the timer's due time (reminder, escalated), the ack's own
    time (the actions); never a process's clock."""

    event_id: str
    notice_id: str
    kind: EventKind
    at_ms: int
    issued_ms: int  # the notice's issue time: its SLA clock starts here
    state: Literal["issued", "received", "dispatched", "arrived", "resolved", "false_alarm"]
    addressed_to: list[str]  # unit codes; "city" is the city command centre
    station_id: str
    community_code: str
    street_code: str
    district_code: str
    grid_code: str
    flag_id: str
    flag_version: int  # the flag version the notice last reported
    cell_id: int = -1  # the flag's lattice cell (a false alarm quiets it); -1: not recorded
    lat: float
    lon: float
    radius_m: float
    score: float
    observed: int
    expected: float
    n_sources: int
    source_counts: dict[str, int]
    category_counts: dict[str, int]
    unit: str | None = None  # acting unit (actions)
    officer: str | None = None  # acting officer's pseudonym (actions)
    reason: str | None = None  # of a false alarm
    receipt_s: float | None = None  # issue to receipt, s (the first action)
    late: bool = False  # the receipt came after the escalation
