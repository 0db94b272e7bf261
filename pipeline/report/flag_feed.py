"""The open flags as the flags topic tells them: for ``hotspot top`` next to a running worker.

In the embedded mode the worker holds the chDB directory, so nothing else can read the
warehouse while it runs; the flags topic is open to any consumer. :class:`FlagFeed` reads
``hotspots.flags`` from the beginning with aiokafka (the worker's own client), keeps the
highest version of each flag, and lists the ones not closed. Given the notices topic too, it
folds each flag's notice events into where its notice stands (events of one notice may come
through different partitions, keyed by the unit addressed: the event's number orders them).
"""

from __future__ import annotations

import asyncio

import msgspec

from ..exceptions import BrokerError
from ..kafka.clients import Brokers, brokers
from ..outputs import FlagMessage
from ..patrol.wire import NoticeEvent
from .top import NoticeStatus, OpenFlag

__all__ = ["FlagFeed"]

_DECODER = msgspec.json.Decoder(FlagMessage)
_NOTICE = msgspec.json.Decoder(NoticeEvent)


def _fold(known: tuple[int, NoticeStatus] | None, event: NoticeEvent) -> tuple[int, NoticeStatus]:
    """A notice's status with one more of its events, in any order: ``(number of the latest
    event, status)``; the state is the latest event's, the timers and receipt any event's."""
    number = int(event.event_id.rsplit("/", 1)[1])
    last, was = known if known is not None else (-1, NoticeStatus("issued", 0, None, False, False))
    return max(last, number), NoticeStatus(
        event.state if number > last else was.state,
        event.issued_ms,
        event.receipt_s if event.receipt_s is not None else was.receipt_s,
        was.reminded or event.kind == "reminder",
        was.escalated or event.kind == "escalated",
    )


def _open_flag(f: FlagMessage, notice: NoticeStatus | None = None) -> OpenFlag:
    return OpenFlag(
        flag_id=f.flag_id,
        version=f.version,
        score=f.score,
        recurrence_days=f.recurrence_days,
        observed=f.observed,
        expected=f.expected,
        lat=f.lat,
        lon=f.lon,
        radius_m=f.radius_m,
        grid_code=f.grid_code,
        community_code=f.community_code,
        street_code=f.street_code,
        district_code=f.district_code,
        station_id=f.station_id,
        source_counts=dict(f.source_counts),
        opened_ms=f.opened_ms,
        boundary_ms=f.boundary_ms,
        notice=notice,
    )


class FlagFeed:
    """``async with FlagFeed(bootstrap, topic) as feed: await feed.poll(); feed.open_flags()``."""

    def __init__(
        self, bootstrap: Brokers | str, topic: str, notices_topic: str | None = None
    ) -> None:
        self.bootstrap = brokers(bootstrap)
        self.topic = topic
        self.notices_topic = notices_topic
        self.latest: dict[str, FlagMessage] = {}
        self.notices: dict[str, tuple[int, NoticeStatus]] = {}  # by flag id
        self.undecodable = 0
        self._consumer = None
        self._partitions: list = []

    async def __aenter__(self) -> FlagFeed:
        from aiokafka import TopicPartition
        from aiokafka.errors import KafkaError

        self._consumer = self.bootstrap.consumer(enable_auto_commit=False)
        try:
            await self._consumer.start()
        except KafkaError as exc:
            await self._consumer.stop()  # else aiokafka warns "Unclosed AIOKafkaConsumer"
            raise BrokerError(
                f"cannot reach Kafka at {self.bootstrap} ({exc}); check --bootstrap (the "
                "worker prints its broker's HOST:PORT) and that the broker runs"
            ) from exc
        topics = [self.topic, *([self.notices_topic] if self.notices_topic else [])]
        self._partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(self._consumer.partitions_for_topic(topic) or set())
        ]
        if self._partitions:
            self._consumer.assign(self._partitions)
            await self._consumer.seek_to_beginning(*self._partitions)
        return self

    async def __aexit__(self, *exc) -> None:
        # one turn of the loop first: aiokafka's stop() cancels a background task of the
        # consumer and awaits it, which raises CancelledError if the task has not started yet
        # (a feed on a topic that does not exist is left at once)
        await asyncio.sleep(0)
        await self._consumer.stop()

    async def poll(self, timeout_ms: int = 500) -> bool:
        """Take what has arrived; True when every partition has been read to its end."""
        if not self._partitions:
            return True
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms)
        for tp, records in fetched.items():
            for record in records:  # one decode per flag version: a few per minute
                try:
                    if tp.topic != self.topic:
                        event = _NOTICE.decode(record.value)
                        self.notices[event.flag_id] = _fold(self.notices.get(event.flag_id), event)
                        continue
                    flag = _DECODER.decode(record.value)
                except msgspec.DecodeError:
                    self.undecodable += 1
                    continue
                known = self.latest.get(flag.flag_id)
                if known is None or flag.version >= known.version:
                    self.latest[flag.flag_id] = flag
        marks = [self._consumer.highwater(tp) for tp in self._partitions]
        positions = [await self._consumer.position(tp) for tp in self._partitions]
        return not fetched and all(
            m is not None and p >= m for p, m in zip(positions, marks, strict=True)
        )

    def open_flags(self, limit: int = 50) -> tuple[list[OpenFlag], int | None]:
        """Open flags by score, highest first, and the newest boundary seen (epoch ms)."""
        flags = sorted(
            (f for f in self.latest.values() if f.status != "close"),
            key=lambda f: (-f.score, f.flag_id),
        )
        clock = max((f.boundary_ms for f in self.latest.values()), default=None)
        return [
            _open_flag(f, self.notices[f.flag_id][1] if f.flag_id in self.notices else None)
            for f in flags[:limit]
        ], clock
