"""Correlate agent: normalised alerts in; incidents, hotspot flags and late dead letters out.

One :class:`~pipeline.correlate.Correlator` per partition of ``alerts.normalized``: a partition
holds whole tiles (plus halo copies of alerts near their edges), so its correlator sees every
alert that can touch the cells it owns. A correlator only publishes flags and incidents whose
centre lies in a tile of its own partition; the neighbour that owns the tile publishes the rest.

State survives a graceful restart as a snapshot per partition in the data directory, taken when
the worker stops and loaded when the partition comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from pathlib import Path

import msgspec
import numpy as np

from pipeline.correlate import Baseline, CorrelationOutput, Correlator
from pipeline.correlate.exceptions import SnapshotError
from pipeline.deadletter import Reason
from pipeline.envelope import decode_envelopes
from pipeline.feeds.decode import Reject
from pipeline.outputs import flag_messages, incident_messages

from ..publish import city_projection, publish_deadletters, tile_partition
from ..runtime import Runtime

__all__ = ["correlate_agent", "PartitionCorrelators"]

log = logging.getLogger(__name__)


class PartitionCorrelators:
    """The correlators of the partitions this worker holds, and their snapshots on disk."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.projection = city_projection(runtime)
        self.params = runtime.settings.correlation
        self._by_partition: dict[int, Correlator] = {}
        self._snapshot_dir = runtime.settings.data_dir / "correlator"

    def _baseline(self) -> Baseline:
        from pipeline.baseline_store import newest_baseline  # the newest `hotspot baseline fit`

        return newest_baseline(self.runtime.warehouse, self.runtime.settings)

    def _snapshot_path(self, partition: int) -> Path:
        return self._snapshot_dir / f"{self.runtime.settings.topics.normalized}-{partition}.npz"

    def get(self, partition: int) -> Correlator:
        if partition not in self._by_partition:
            self._by_partition[partition] = self._load(partition)
        return self._by_partition[partition]

    def _load(self, partition: int) -> Correlator:
        path = self._snapshot_path(partition)
        if path.exists():
            try:
                restored = Correlator.restore(
                    path.read_bytes(), self.params, self.projection, self._baseline()
                )
                log.info("partition %d: correlator state restored from %s", partition, path)
                return restored
            except SnapshotError as exc:
                log.warning("partition %d: %s", partition, exc)
        return Correlator(self.params, self.projection, self._baseline())

    def save_all(self) -> None:
        self._snapshot_dir.mkdir(parents=True, exist_ok=True)
        for partition, correlator in self._by_partition.items():
            path = self._snapshot_path(partition)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(correlator.snapshot())
            tmp.replace(path)  # atomic: a crash mid-write never leaves half a snapshot

    def owns(self, partition: int, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Which points lie in a tile that this partition owns."""
        settings = self.runtime.settings
        x, y = self.projection.to_xy(lat, lon)
        ix, iy = np.floor(x / settings.tile_m), np.floor(y / settings.tile_m)
        return tile_partition(ix, iy, settings.partitions) == partition


def _owned(output: CorrelationOutput, partition: int, correlators: PartitionCorrelators):
    def keep(items):
        if not items:
            return []
        lat = np.array([i.lat for i in items])
        lon = np.array([i.lon for i in items])
        return [i for i, own in zip(items, correlators.owns(partition, lat, lon), strict=True)
                if own]

    return keep(output.incidents), keep(output.flags)


_LATE = "event time behind the watermark (max event time seen - allowed lateness)"


def _late_rejects(output: CorrelationOutput, alert_ids: np.ndarray, halo: np.ndarray):
    """Dead letters for late primaries (a halo copy's lateness is its owner's business)."""
    late = np.flatnonzero(np.isin(alert_ids, output.late.alert_id) & ~halo)
    return [Reject(int(i), Reason.LATE, _LATE) for i in late]


encode = msgspec.json.Encoder().encode


def correlate_agent(app, runtime: Runtime):
    settings = runtime.settings
    correlators = PartitionCorrelators(runtime)
    topics = settings.topics

    async def correlate(stream):
        try:
            async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
                by_partition = defaultdict(list)
                for event in events:
                    by_partition[event.message.partition].append(event.message)
                futures = []
                for partition, messages in sorted(by_partition.items()):
                    futures += await _correlate_partition(partition, messages)
                runtime.progress.mark_produced(await asyncio.gather(*futures))
                runtime.progress.mark_batch("correlate", [event.message for event in events])
        finally:
            correlators.save_all()

    async def _send(topic: str, key: str, value: bytes):
        return await app.producer.send(topic, key.encode(), value, None, None, None)

    async def _correlate_partition(partition: int, messages: list) -> list:
        decoded = decode_envelopes([m.value for m in messages], runtime.registry)
        try:
            output = await asyncio.to_thread(correlators.get(partition).process, decoded.alerts)
        except Exception:  # a bug: keep correlating the rest, dead-letter this batch visibly
            log.exception("partition %d: correlating %d alerts failed", partition, len(messages))
            failed = [Reject(i, Reason.INTERNAL_ERROR, "correlator failed; see log")
                      for i in np.flatnonzero(~decoded.halo).tolist()]
            return await publish_deadletters(app, runtime, "correlate", messages, failed)
        incidents, flags = _owned(output, partition, correlators)
        incidents = incident_messages(incidents, runtime.registry)
        flags = flag_messages(flags, runtime.registry)
        futures = [await _send(topics.incidents, i.incident_id, encode(i)) for i in incidents]
        futures += [await _send(topics.flags, f.flag_id, encode(f)) for f in flags]
        rejects = _late_rejects(output, decoded.alerts.alert_id, decoded.halo)
        alert_ids = {r.index: decoded.alerts.alert_id[r.index] for r in rejects}
        for source in {decoded.envelopes[r.index].source for r in rejects}:
            futures += await publish_deadletters(
                app, runtime, source, messages,
                [r for r in rejects if decoded.envelopes[r.index].source == source], alert_ids,
            )
        runtime.metrics.flags.inc(len(flags))
        runtime.metrics.incidents.inc(len(incidents))
        return futures

    return correlate
