"""The notices of one partition of ``alerts.normalized`` and their SLA state machine.

A notice follows a flag of the partition's correlator: issued when the flag opens, ``raised``
when the flag's score rises markedly while nobody has acknowledged it. Its state goes
issued → received → dispatched → arrived → resolved (or false_alarm) as acks come in; a later
action implies the earlier ones (a first ``dispatched`` is also the receipt). Without a receipt,
a ``reminder`` falls due ``receipt_ms`` after the issue time and an ``escalated`` event
``escalation_ms`` after it; a receipt after the escalation is marked late.

**False alarms quiet the cell.** A ``false_alarm`` ack suppresses the notice's lattice cell
(``cell_id``) until ``suppress_ms`` after the ack's own time: a flag that opens on the cell in
that time is *held*, its versions published to nobody and no notice issued, until a version's
score reaches ``false_alarm_ratio`` times the score the dismissed notice last reported (it is
then published as it stands, as an ``open``, and issues a notice) or a version comes at or after
the end of the suppression (the same). A held flag that closes is never published. The cell is
owned by one partition (its tile's), so the ack, routed by its notice id to the partition that
issued the notice, reaches the only correlator that can flag the cell again. Suppression takes
effect where the ack stands in that partition's log: flag versions before it were published
already, those after it are screened, decided on their event time (boundary) against the ack's
recorded time; so a replay of the log holds the same flags.

Timers run on **recorded time** only: a timer fires when the correlator's watermark (the marks
in the partition's log) reaches its due time, and the event carries the due time, not the time
it was noticed. Everything that changes a notice comes in the partition's log order (flag
versions as the correlator emits them, acks as records between the alerts), and before each
flag version (boundary ``B``) every timer due by ``B`` fires, before each ack every timer due by
the watermark. So however polls cut the log, the same log gives the same events, with the same
ids, and a restored book (it is part of the partition's checkpoint) continues as if never
stopped.

The loops here are per flag version, ack or timer due (a handful per slide), never per alert
or per notice held: timers and expiries wait in heaps, so a check costs what falls due, not
the thousands of notices a busy city holds for a day (1,000 flags opened one after another:
521 ms with a scan of every notice per flag, quadratic; 24 ms with the heaps; both on the
shared 2-core development machine while other tests ran).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import msgspec

from ..deadletter import Reason
from ..outputs import FlagMessage
from .wire import AckRecord, NoticeEvent, notice_id

__all__ = ["PatrolParams", "NoticeBook", "AckRefused"]

#: how far each state is along the notice's life; the two ends share the last rank
_RANK = {
    "issued": 0,
    "received": 1,
    "dispatched": 2,
    "arrived": 3,
    "resolved": 4,
    "false_alarm": 4,
}
#: the city command centre, as an addressee of escalations
CITY = "city"
_BOOK_FORMAT = 1


@dataclass(frozen=True, slots=True)
class PatrolParams:
    """The SLA's delays and when a notice is raised or forgotten, in milliseconds."""

    receipt_ms: int = 300_000
    escalation_ms: int = 1_800_000
    rise_ratio: float = 1.5
    retention_ms: int = 86_400_000
    suppress_ms: int = 7_200_000
    false_alarm_ratio: float = 1.5

    @classmethod
    def from_settings(cls, settings) -> PatrolParams:
        return cls(
            receipt_ms=round(settings.notice_receipt_s * 1000),
            escalation_ms=round(settings.notice_escalation_s * 1000),
            rise_ratio=settings.notice_rise_ratio,
            retention_ms=round(settings.notice_retention_s * 1000),
            suppress_ms=round(settings.false_alarm_suppress_s * 1000),
            false_alarm_ratio=settings.false_alarm_rise_ratio,
        )


class AckRefused(msgspec.Struct, frozen=True):
    """Why an ack was not applied: a dead-letter reason and a detail naming what to fix."""

    reason: Reason
    detail: str


class _Notice(msgspec.Struct, kw_only=True):
    """A notice's state: its last issued/raised event (the fields every event repeats), and
    where it stands."""

    last: NoticeEvent
    events: int  # events published so far (the next one's number)
    reminded: bool = False
    escalated: bool = False
    last_ms: int  # event time of its newest event: it is forgotten retention after that

    @property
    def state(self) -> str:
        return self.last.state

    def due(self, params: PatrolParams) -> list[tuple[int, str]]:
        """Its timers still to fire, ``(due_ms, kind)``, earliest first."""
        if self.state != "issued":
            return []
        timers = []
        if not self.reminded:
            timers.append((self.last.issued_ms + params.receipt_ms, "reminder"))
        if not self.escalated:
            timers.append((self.last.issued_ms + params.escalation_ms, "escalated"))
        return timers


class _Quiet(msgspec.Struct, frozen=True):
    """A false alarm's hold on a cell: flags opening there before ``until_ms`` (event time) are
    held unless their score reaches ``score`` (the dismissed score times the ratio)."""

    cell_id: int
    until_ms: int
    score: float
    notice_id: str  # the dismissed notice (for the record)


class _Held(msgspec.Struct, frozen=True):
    """A flag held since it opened, and the hold it answers to."""

    flag_id: str
    quiet: _Quiet


class _State(msgspec.Struct):
    format: int
    partition: int
    notices: list[_Notice]
    # Both absent from books written before false alarms held flags: none then.
    quiet: list[_Quiet] = []
    held: list[_Held] = []


def _units(flag: FlagMessage | NoticeEvent) -> list[str]:
    """The units a notice is addressed to, the station first (its key), none empty."""
    codes = (flag.station_id, flag.community_code, flag.street_code)
    return list(dict.fromkeys(c for c in codes if c))


class NoticeBook:
    """The notices of one partition: flags in, acks in, timers on the watermark; events out."""

    def __init__(self, partition: int, params: PatrolParams) -> None:
        self.partition = partition
        self.params = params
        self._notices: dict[str, _Notice] = {}
        # Derived from the notices, not part of a snapshot: (due_ms, kind, notice id) of
        # timers, and (time, notice id) when a notice may be forgotten. Entries go stale
        # (a receipt, a later event) and are checked when they come up.
        self._timers: list[tuple[int, str, str]] = []
        self._expiries: list[tuple[int, str]] = []
        # False alarms: cell id -> its hold, and the flags held (flag id -> the hold).
        self._quiet: dict[int, _Quiet] = {}
        self._held: dict[str, _Quiet] = {}

    def _track(self, nid: str, notice: _Notice) -> None:
        """Queue the notice's pending timers."""
        for due_ms, kind in notice.due(self.params):
            heapq.heappush(self._timers, (due_ms, kind, nid))

    def __len__(self) -> int:
        return len(self._notices)

    # --- flags ---------------------------------------------------------------------------------

    def screen(self, flags: list[FlagMessage]) -> list[FlagMessage]:
        """The flag versions to publish: those of a cell quieted by a false alarm are held
        (see the module docstring); a held flag released by a rise or by the end of its hold
        comes out as ``open``. Call before :meth:`flags`, with the versions in log order."""
        if not self._quiet and not self._held:
            return flags
        out = []
        for flag in flags:  # loop per flag version: a few per slide
            quiet = self._held.get(flag.flag_id)
            if quiet is None and flag.status == "open":
                quiet = self._quiet.get(flag.cell_id)
                if quiet is not None and not _released(quiet, flag):
                    self._held[flag.flag_id] = quiet
                    continue
                out.append(flag)
            elif quiet is None:
                out.append(flag)
            elif flag.status == "close":
                del self._held[flag.flag_id]  # never published: nothing to close
            elif _released(quiet, flag):
                del self._held[flag.flag_id]
                out.append(msgspec.structs.replace(flag, status="open"))
        return out

    def held(self) -> int:
        """How many flags are held by false alarms now."""
        return len(self._held)

    def flags(self, flags: list[FlagMessage]) -> list[NoticeEvent]:
        """Flag versions of this partition, as the correlator emitted them: each opened flag
        issues a notice, and an update whose score reached ``rise_ratio`` times the one last
        noticed raises it while it is unacknowledged; timers due by a version's boundary fire
        before it."""
        events = []
        for flag in flags:  # loop per flag version: a few per slide
            events += self.due(flag.boundary_ms)
            nid = notice_id(self.partition, flag.flag_id)
            notice = self._notices.get(nid)
            if flag.status == "open" and notice is None:
                events.append(self._issue(nid, flag))
            elif (
                notice is not None
                and flag.status == "update"
                and notice.state == "issued"
                and flag.score >= notice.last.score * self.params.rise_ratio
            ):
                events.append(self._raise(notice, flag))
        return events

    def _issue(self, nid: str, flag: FlagMessage) -> NoticeEvent:
        event = NoticeEvent(
            event_id=f"{nid}/0",
            notice_id=nid,
            kind="issued",
            at_ms=flag.boundary_ms,
            issued_ms=flag.boundary_ms,
            state="issued",
            addressed_to=_units(flag),
            **_flag_fields(flag),
        )
        notice = _Notice(last=event, events=1, last_ms=event.at_ms)
        self._notices[nid] = notice
        self._track(nid, notice)
        heapq.heappush(self._expiries, (event.at_ms + self.params.retention_ms, nid))
        return event

    def _raise(self, notice: _Notice, flag: FlagMessage) -> NoticeEvent:
        event = msgspec.structs.replace(
            notice.last, kind="raised", at_ms=flag.boundary_ms, **_flag_fields(flag)
        )
        notice.last = event
        return self._emitted(notice, event)

    def _emitted(self, notice: _Notice, event: NoticeEvent) -> NoticeEvent:
        """``event`` numbered as the notice's next one."""
        event = msgspec.structs.replace(event, event_id=f"{event.notice_id}/{notice.events}")
        notice.events += 1
        notice.last_ms = max(notice.last_ms, event.at_ms)
        expires = notice.last_ms + self.params.retention_ms
        heapq.heappush(self._expiries, (expires, event.notice_id))
        return event

    # --- timers --------------------------------------------------------------------------------

    def due(self, now_ms: int) -> list[NoticeEvent]:
        """Every timer due by recorded time ``now_ms`` (the watermark, or a flag version's
        boundary), in due order; then forget the notices idle for ``retention_ms``."""
        events = []
        while self._timers and self._timers[0][0] <= now_ms:  # loop per timer due
            due_ms, kind, nid = heapq.heappop(self._timers)
            notice = self._notices.get(nid)
            if notice is None or (due_ms, kind) not in notice.due(self.params):
                continue  # received meanwhile, or forgotten
            addressed = notice.last.addressed_to
            if kind == "reminder":
                notice.reminded = True
            else:
                notice.escalated = True
                district = [notice.last.district_code] if notice.last.district_code else []
                addressed = list(dict.fromkeys([*district, CITY, *addressed]))
            event = msgspec.structs.replace(
                notice.last, kind=kind, at_ms=due_ms, addressed_to=addressed
            )
            events.append(self._emitted(notice, event))
        while self._expiries and self._expiries[0][0] <= now_ms:  # loop per expiry due
            expires, nid = heapq.heappop(self._expiries)
            notice = self._notices.get(nid)
            if (
                notice is not None
                and notice.last_ms + self.params.retention_ms == expires
                and not notice.due(self.params)
            ):
                del self._notices[nid]
        if self._quiet:  # a few false alarms at most: a scan is cheaper than a heap
            ended = [
                c for c, q in self._quiet.items() if q.until_ms + self.params.retention_ms <= now_ms
            ]
            for cell in ended:
                del self._quiet[cell]
        return events

    # --- acks ----------------------------------------------------------------------------------

    def apply(self, ack: AckRecord) -> NoticeEvent | AckRefused:
        """An ack, in log order (the caller fires the timers due by the watermark first, with
        :meth:`due`): it moves the notice on, or is refused with a dead-letter reason."""
        notice = self._notices.get(ack.notice_id)
        if notice is None:
            return AckRefused(
                Reason.UNKNOWN_NOTICE,
                f"no notice {ack.notice_id} on partition {self.partition} (never issued, or "
                "forgotten notice_retention_s after its last event); check the notice id",
            )
        last = notice.last
        allowed = set(_units(last)) | ({last.district_code} if notice.escalated else set())
        if ack.unit not in allowed - {""}:
            return AckRefused(
                Reason.UNIT_NOT_RESPONSIBLE,
                f"unit {ack.unit} is not addressed by notice {ack.notice_id} (it is "
                f"{', '.join(sorted(allowed - {''}))}); ack as one of them",
            )
        if ack.at_ms < last.issued_ms:
            return AckRefused(
                Reason.BEFORE_NOTICE,
                f"ack time {ack.at_ms} is before the notice's issue time {last.issued_ms} "
                "(epoch ms); check the ack's clock and time zone",
            )
        if _RANK[ack.action] <= _RANK[notice.state]:
            return AckRefused(
                Reason.DUPLICATE_ACK,
                f"notice {ack.notice_id} is already {notice.state}: {ack.action} is recorded "
                "or implied; nothing to do",
            )
        first = notice.state == "issued"
        event = msgspec.structs.replace(
            last,
            kind=ack.action,
            at_ms=ack.at_ms,
            state=ack.action,
            addressed_to=_addressed_after(last, notice.escalated),
            unit=ack.unit,
            officer=ack.officer,
            reason=ack.reason,
            receipt_s=(ack.at_ms - last.issued_ms) / 1000 if first else None,
            late=first and notice.escalated,
        )
        notice.last = msgspec.structs.replace(
            last, state=ack.action, addressed_to=event.addressed_to
        )
        if ack.action == "false_alarm" and last.cell_id >= 0:
            self._quiet[last.cell_id] = _Quiet(
                last.cell_id,
                ack.at_ms + self.params.suppress_ms,
                last.score * self.params.false_alarm_ratio,
                ack.notice_id,
            )
        return self._emitted(notice, event)

    # --- checkpoints ---------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The book as bytes, notices in id order (the same state gives the same bytes)."""
        notices = [self._notices[k] for k in sorted(self._notices)]
        quiet = [self._quiet[c] for c in sorted(self._quiet)]
        held = [_Held(f, self._held[f]) for f in sorted(self._held)]
        return msgspec.json.encode(_State(_BOOK_FORMAT, self.partition, notices, quiet, held))

    @classmethod
    def restore(cls, data: bytes, partition: int, params: PatrolParams) -> NoticeBook:
        """The book :meth:`snapshot` wrote for ``partition``; ValueError when it is not one."""
        try:
            state = msgspec.json.decode(data, type=_State)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a notice book ({exc})") from exc
        if state.format != _BOOK_FORMAT or state.partition != partition:
            raise ValueError(
                f"a notice book of format {state.format} for partition {state.partition}, "
                f"expected format {_BOOK_FORMAT} for partition {partition}"
            )
        book = cls(partition, params)
        book._notices = {n.last.notice_id: n for n in state.notices}
        book._quiet = {q.cell_id: q for q in state.quiet}
        book._held = {h.flag_id: h.quiet for h in state.held}
        for nid, notice in book._notices.items():  # loop per notice: once, on restore
            book._track(nid, notice)
            heapq.heappush(book._expiries, (notice.last_ms + params.retention_ms, nid))
        return book


def _released(quiet: _Quiet, flag: FlagMessage) -> bool:
    """Whether a flag version of a quieted cell is out: its hold ended by its event time, or
    its score rose to the margin."""
    return flag.boundary_ms >= quiet.until_ms or flag.score >= quiet.score


def _addressed_after(last: NoticeEvent, escalated: bool) -> list[str]:
    """An action's addressees: the notice's units, and after an escalation also its district
    and the city, who were told it was overdue."""
    units = _units(last)
    if escalated:
        units = list(
            dict.fromkeys([*units, *([last.district_code] * bool(last.district_code)), CITY])
        )
    return units


def _flag_fields(flag: FlagMessage) -> dict:
    """What a notice repeats of its flag version."""
    return {
        "station_id": flag.station_id,
        "community_code": flag.community_code,
        "street_code": flag.street_code,
        "district_code": flag.district_code,
        "grid_code": flag.grid_code,
        "flag_id": flag.flag_id,
        "flag_version": flag.version,
        "cell_id": flag.cell_id,
        "lat": flag.lat,
        "lon": flag.lon,
        "radius_m": flag.radius_m,
        "score": flag.score,
        "observed": flag.observed,
        "expected": flag.expected,
        "n_sources": flag.n_sources,
        "source_counts": dict(flag.source_counts),
        "category_counts": dict(flag.category_counts),
    }
