"""The demo's simulated police stations: they read their notices and acknowledge them with
realistic delays (:mod:`pipeline.sim.stations`), each ack sent when the replay's event clock
reaches its time, as a station would send it.

A thread beside the replay and the worker: it reads ``hotspots.notices`` from the start with a
consumer of its own (no group), queues the answers of every notice issued, and sends those due
by the newest event time the replay sent to ``hotspots.acks``, keyed by notice id. The worker
lags the replay (it correlates what was sent), so a notice often comes after its answers are
due: they go at once, with their own times. It runs until the worker stops (the worker drains
the acks topic too, so acks sent while it drains are taken); answers due after the replay's
last event time are never sent, as if the city's day ended there.
"""

from __future__ import annotations

import heapq
import threading

import msgspec
import numpy as np

from pipeline.kafka import send_chunks
from pipeline.kafka.clients import Brokers
from pipeline.patrol import NoticeEvent, encode_ack
from pipeline.replay.chunks import RecordChunk
from pipeline.sim.stations import station_answers

__all__ = ["SimulatedStations"]


class SimulatedStations(threading.Thread):
    """``SimulatedStations(brokers, notices, acks, seed, clock).start()``, ``.stop.set()``
    when the worker stopped; ``clock()`` is the replay's newest event time (epoch ms, None
    before the first)."""

    def __init__(self, brokers: Brokers, notices, acks, seed, clock) -> None:
        super().__init__(name="stations", daemon=True)
        self.brokers, self.notices, self.acks, self.seed = brokers, notices, acks, seed
        self.clock = clock
        self.sent = 0
        self.stop = threading.Event()
        self._due: list[tuple[int, str, bytes]] = []  # (at_ms, notice id, ack value)

    def run(self) -> None:
        from kafka import TopicPartition

        consumer = self.brokers.sync_consumer(enable_auto_commit=False)
        decode = msgspec.json.Decoder(NoticeEvent).decode
        try:
            parts = consumer.partitions_for_topic(self.notices) or set()
            consumer.assign([TopicPartition(self.notices, p) for p in sorted(parts)])
            consumer.seek_to_beginning()
            while not self.stop.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:  # loop per notice event: a few per slide
                        event = decode(record.value)
                        if event.kind == "issued":
                            self._answer(event)
                self._send(self.clock())
        finally:
            consumer.close()

    def _answer(self, event: NoticeEvent) -> None:
        officer = f"sim-{event.station_id}-{int(event.notice_id[-4:], 16) % 40:02d}"
        for answer in station_answers(event.notice_id, event.issued_ms, self.seed):
            value = encode_ack(
                event.notice_id,
                event.station_id,
                answer.action,
                answer.at_ms,
                officer,
                answer.reason,
            )
            heapq.heappush(self._due, (answer.at_ms, event.notice_id, value))

    def _send(self, now_ms: int | None) -> None:
        """Send the acks due by the replay's event clock ``now_ms``."""
        ready = []
        while self._due and now_ms is not None and self._due[0][0] <= now_ms:
            ready.append(heapq.heappop(self._due))
        if not ready:
            return
        chunk = RecordChunk(
            topic=np.array([self.acks] * len(ready), dtype=object),
            key=[nid for _, nid, _ in ready],
            values=[value for _, _, value in ready],
            ts=np.array([at for at, _, _ in ready], np.int64),
            line=np.arange(1, len(ready) + 1, dtype=np.int64),
        )
        send_chunks([chunk], self.brokers)
        self.sent += len(ready)
