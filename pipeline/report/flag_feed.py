"""The open flags as the flags topic tells them: for ``hotspot top`` next to a running worker.

In the embedded mode the worker holds the chDB directory, so nothing else can read the
warehouse while it runs; the flags topic is open to any consumer. :class:`FlagFeed` reads
``hotspots.flags`` from the beginning with aiokafka (the worker's own client), keeps the
highest version of each flag, and lists the ones not closed.
"""

from __future__ import annotations

import msgspec

from ..exceptions import BrokerError
from ..outputs import FlagMessage
from .top import OpenFlag

__all__ = ["FlagFeed"]

_DECODER = msgspec.json.Decoder(FlagMessage)


def _open_flag(f: FlagMessage) -> OpenFlag:
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
    )


class FlagFeed:
    """``async with FlagFeed(bootstrap, topic) as feed: await feed.poll(); feed.open_flags()``."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.latest: dict[str, FlagMessage] = {}
        self.undecodable = 0
        self._consumer = None
        self._partitions: list = []

    async def __aenter__(self) -> FlagFeed:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.errors import KafkaError

        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False
        )
        try:
            await self._consumer.start()
        except KafkaError as exc:
            await self._consumer.stop()  # else aiokafka warns "Unclosed AIOKafkaConsumer"
            raise BrokerError(
                f"cannot reach Kafka at {self.bootstrap} ({exc}); check --bootstrap (the "
                "worker prints its broker's HOST:PORT) and that the broker runs"
            ) from exc
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if self._partitions:
            self._consumer.assign(self._partitions)
            await self._consumer.seek_to_beginning(*self._partitions)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._consumer.stop()

    async def poll(self, timeout_ms: int = 500) -> bool:
        """Take what has arrived; True when every partition has been read to its end."""
        if not self._partitions:
            return True
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms)
        for records in fetched.values():
            for record in records:  # one decode per flag version: a few per minute
                try:
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
        return [_open_flag(f) for f in flags[:limit]], clock
