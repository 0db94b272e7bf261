"""Refuse a backfill whose records the warehouse would drop, before anything is loaded.

The warehouse keeps each kind of row for a set time (``Settings.retention``, applied as table
TTLs by :mod:`pipeline.warehouse.retention`). A backfill of history older than that would be
stored and then silently dropped. :func:`scan_event_times` reads the files' event times first
(decoding only each record's time field); :class:`RetentionCheck` counts, per table, the
records it would drop, and :func:`explain` says so and what to change.

Dead letters are left out: a backfill stamps them with the time they were rejected, now.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter
from pathlib import Path

import msgspec
import numpy as np

from ..alerts import SOURCE_CODE, SOURCES
from ..feeds.decode import FEEDS, epoch_ms
from ..replay.chunks import NO_TIMESTAMP, RecordChunk
from ..replay.typed import PREFIX
from ..settings import Retention, Settings
from ..warehouse.retention import KEPT, Kept
from .files import read_chunks

__all__ = ["RetentionCheck", "scan_event_times", "explain"]

DAY_MS = 86_400_000


#: Tables whose rows a backfill does not date by the records' event times: dead letters count
#: from when they were received (now), and a backfill issues no notices.
_NOT_BY_EVENT_TIME = frozenset({"deadletters", "notices"})


@dataclass
class RetentionCheck:
    """Event times seen so far, and how many of them each event-time table would drop at
    ``now_ms`` under ``retention``."""

    retention: Retention
    now_ms: int
    records: int = 0
    oldest_ms: int | None = None
    newest_ms: int | None = None
    dropped: dict[Kept, int] = field(init=False)  # records each table would drop
    dropped_newest: dict[Kept, int] = field(init=False)  # the newest of them, epoch ms
    _cutoffs: dict[Kept, int] = field(init=False, repr=False)  # it keeps event times from these

    def __post_init__(self) -> None:
        self._cutoffs = {
            kept: self.now_ms - days * DAY_MS
            for kept in KEPT
            if kept.setting not in _NOT_BY_EVENT_TIME
            and (days := getattr(self.retention, kept.setting))
        }
        self.dropped = dict.fromkeys(self._cutoffs, 0)
        self.dropped_newest = {}

    def add(self, event_ms: np.ndarray) -> None:
        if not len(event_ms):
            return
        self.records += len(event_ms)
        low, high = int(event_ms.min()), int(event_ms.max())
        self.oldest_ms = low if self.oldest_ms is None else min(self.oldest_ms, low)
        self.newest_ms = high if self.newest_ms is None else max(self.newest_ms, high)
        for kept, cutoff in self._cutoffs.items():
            older = event_ms[event_ms < cutoff]
            if len(older):
                self.dropped[kept] += len(older)
                newest = int(older.max())
                self.dropped_newest[kept] = max(self.dropped_newest.get(kept, newest), newest)

    @property
    def outside(self) -> dict[Kept, int]:
        """Tables that would drop records, with how many."""
        return {kept: n for kept, n in self.dropped.items() if n}


@dataclass(frozen=True)
class _TimeDecoder:
    """Decodes only a feed's time field: many values in one call (as a JSON array), or one."""

    field: str
    many: msgspec.json.Decoder
    one: msgspec.json.Decoder

    @classmethod
    def of(cls, source: str) -> _TimeDecoder:
        spec = FEEDS[source]
        kind = next(
            f.type for f in msgspec.structs.fields(spec.wire_type) if f.name == spec.time_field
        )
        when = msgspec.defstruct(f"{source}_time", [(spec.time_field, kind)])
        return cls(spec.time_field, msgspec.json.Decoder(list[when]), msgspec.json.Decoder(when))

    def times(self, values: list) -> tuple[np.ndarray, np.ndarray]:
        """Event times (epoch ms) of the values that decode, and their positions in
        ``values``; the others are left to the backfill, which dead-letters them."""
        try:  # one call for the whole feed
            structs = self.many.decode(b"[" + b",".join(values) + b"]")
            if len(structs) == len(values):  # (garbage such as "{…},{…}" would shift them)
                return self._ms(structs), np.arange(len(values))
        except msgspec.DecodeError:
            pass
        structs, ok = [], []
        for i, value in enumerate(values):  # a malformed value among them: one at a time
            try:
                structs.append(self.one.decode(value))
                ok.append(i)
            except msgspec.DecodeError:
                continue
        return self._ms(structs), np.array(ok, np.int64)

    def _ms(self, structs: list) -> np.ndarray:
        return epoch_ms(list(map(attrgetter(self.field), structs)))


def _chunk_times(
    chunk: RecordChunk, feed_of: dict[str, int], decoders, clock_ms: int | None, max_age_ms: int
) -> np.ndarray:
    """Event times of the chunk's records the backfill will store: those that decode and, with
    ``max_age_ms``, are no older than that behind their clock (the record's arrival ``ts``,
    or ``clock_ms`` when it is given or the record has none); older ones it dead-letters as
    stale."""
    topics = chunk.topic.tolist()
    feeds = np.fromiter(map(feed_of.get, topics, repeat(-1)), np.int8, len(topics))
    if chunk.typed is not None:  # typed Parquet: the times are decoded already
        column = chunk.typed.column(f"{PREFIX}event_ms")
        index = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False) & (feeds >= 0))
        times = column.fill_null(0).to_numpy(zero_copy_only=False)[index].astype(np.int64)
    else:
        parts, positions = [], []
        for code, source in enumerate(SOURCES):
            index = np.flatnonzero(feeds == code)
            if len(index):
                values = list(map(chunk.values.__getitem__, index.tolist()))
                times, ok = decoders[source].times(values)
                parts.append(times)
                positions.append(index[ok])
        if not parts:
            return np.empty(0, np.int64)
        times, index = np.concatenate(parts), np.concatenate(positions)
    if not max_age_ms:
        return times
    clocks = chunk.ts[index] if clock_ms is None else np.full(len(index), clock_ms)
    if clock_ms is None:
        clocks = np.where(clocks == NO_TIMESTAMP, int(time.time() * 1000), clocks)
    return times[times >= clocks - max_age_ms]


def scan_event_times(
    paths: Sequence[Path],
    settings: Settings,
    now_ms: int,
    *,
    clock: str = "arrival",
    chunk_records: int = 100_000,
) -> RetentionCheck:
    """The event time of every record of ``paths`` the backfill will store, judged as the
    backfill judges staleness (``clock`` as in :class:`~.engine.Backfill`)."""
    feed_of = {f"alerts.{source}": code for source, code in SOURCE_CODE.items()}
    feed_of |= {topic: SOURCE_CODE[source] for source, topic in settings.topics.feeds().items()}
    decoders = {source: _TimeDecoder.of(source) for source in SOURCES}
    clock_ms = None if clock == "arrival" else now_ms
    max_age_ms = int(settings.max_age_s * 1000)
    check = RetentionCheck(settings.retention, now_ms)
    for path in paths:
        for chunk in read_chunks(Path(path), [], chunk_records):
            check.add(_chunk_times(chunk, feed_of, decoders, clock_ms, max_age_ms))
    return check


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def explain(check: RetentionCheck, *, loading: bool) -> str:
    """What the warehouse would drop of the checked records (there must be something), and
    what to do about it; ``loading``: the person chose to load them anyway."""
    if check.oldest_ms is None or check.newest_ms is None or not check.outside:
        raise ValueError("nothing falls outside the retention: there is nothing to explain")
    lines = [
        f"the records' event times run from {_day(check.oldest_ms)} to {_day(check.newest_ms)}; "
        f"the warehouse {'will' if loading else 'would'} drop some of them:"
    ]
    for kept, n in check.outside.items():
        days = getattr(check.retention, kept.setting)
        lines.append(
            f"  {kept.table}: {n:,} of {check.records:,}, dated {_day(check.oldest_ms)} to "
            f"{_day(check.dropped_newest[kept])}, are older than its retention of {days} days "
            f"(before {_day(check.now_ms - days * DAY_MS)}), {kept.variable}"
        )
    if not loading:
        age_days = -(-(check.now_ms - check.oldest_ms) // DAY_MS)
        variables = " and ".join(sorted({kept.variable for kept in check.outside}))
        lines.append(
            f"Raise {variables} to at least {age_days} (days; 0 keeps rows for ever), or "
            "pass --ignore-retention to load them anyway and let the warehouse drop them."
        )
    return "\n".join(lines)
