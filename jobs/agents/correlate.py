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
from pathlib import Path
from typing import NamedTuple

import msgspec
import numpy as np

from pipeline.alerts import SOURCES, AlertBatch
from pipeline.correlate import Baseline, CorrelationOutput, Correlator
from pipeline.correlate.exceptions import SnapshotError
from pipeline.deadletter import Reason
from pipeline.envelope import decode_envelopes
from pipeline.feeds.decode import Reject
from pipeline.outputs import flag_messages, incident_messages
from pipeline.routing import TileRouting

from ..consumer import Polled, Stage
from ..producer import BatchProducer
from ..publish import publish_deadletters
from ..runtime import Runtime

__all__ = ["correlate_stage", "PartitionCorrelators"]

log = logging.getLogger(__name__)


class PartitionCorrelators:
    """The correlators of the partitions this worker holds, and their snapshots on disk."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.routing = TileRouting.from_settings(runtime.settings, runtime.registry)
        self.projection = self.routing.projection
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

    def save_all(self, partitions: set[int] | None = None) -> None:
        self._snapshot_dir.mkdir(parents=True, exist_ok=True)
        for partition, correlator in self._by_partition.items():
            if partitions is not None and partition not in partitions:
                continue
            path = self._snapshot_path(partition)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(correlator.snapshot())
            tmp.replace(path)  # atomic: a crash mid-write never leaves half a snapshot

    def release(self, partitions: set[int] | None) -> None:
        """Snapshot and forget the correlators of partitions this worker no longer holds
        (None: all of them, the worker stops)."""
        self.save_all(partitions)
        for partition in set(self._by_partition) if partitions is None else partitions:
            self._by_partition.pop(partition, None)


_LATE = "event time behind the watermark (max event time seen - allowed lateness)"


def _late_rejects(output: CorrelationOutput, alerts: AlertBatch, halo: np.ndarray):
    """Dead letters for late primaries (a halo copy's lateness is its owner's business)."""
    if len(output.late) == 0:
        return []
    # Candidates by event time first (integers), then ids among those only: ids as fixed-width
    # strings for the whole batch cost more than the rest of the stage's bookkeeping.
    maybe = np.flatnonzero(np.isin(alerts.event_ms, output.late.event_ms) & ~halo)
    ids = alerts.alert_id[maybe].astype(str)
    late = maybe[np.isin(ids, output.late.alert_id.astype(str))]
    return [Reject(int(i), Reason.LATE, _LATE) for i in late]


encode = msgspec.json.Encoder().encode


def correlate_stage(runtime: Runtime, producer: BatchProducer) -> Stage:
    """The stage on ``alerts.normalized``: envelopes are decoded into the correlator's columns
    once, then correlated per partition (the normalise stage wrote the alerts table)."""
    correlators = PartitionCorrelators(runtime)
    threads = asyncio.Semaphore(runtime.settings.correlator_threads)
    topics = runtime.settings.topics

    async def correlate(polls: list[Polled]) -> None:
        (polled,) = polls
        deliveries = []
        try:
            decoded = decode_envelopes(polled.values, runtime.registry)
        except Exception:  # noqa: BLE001 - someone else's record on our topic: isolate it
            log.exception("%d envelopes did not decode; dead-lettering the bad ones",
                          len(polled.values))
            polled, rejects = _decodable(polled, runtime)
            deliveries += await publish_deadletters(
                producer, runtime, "correlate", rejects.records, rejects.rejects
            )
            decoded = decode_envelopes(polled.values, runtime.registry)
        parts = [_correlate_partition(int(p), polled, decoded)
                 for p in np.unique(polled.partitions)]
        outputs = await asyncio.gather(*parts)
        deliveries += [d for part in outputs for d in part]
        runtime.progress.mark_produced(await asyncio.gather(*deliveries))

    async def _correlate_partition(partition: int, polled: Polled, decoded) -> list:
        rows = np.flatnonzero(polled.partitions == partition)
        alerts, halo = decoded.alerts.take(rows), decoded.halo[rows]
        records = _Rows(polled.records, rows)
        try:
            async with threads:
                output = await asyncio.to_thread(correlators.get(partition).process, alerts)
        except Exception:  # a bug: keep correlating the rest, dead-letter this batch visibly
            log.exception("partition %d: correlating %d alerts failed", partition, len(rows))
            failed = [Reject(i, Reason.INTERNAL_ERROR, "correlator failed; see log")
                      for i in np.flatnonzero(~halo).tolist()]
            return await publish_deadletters(producer, runtime, "correlate", records, failed)
        owned = correlators.routing.owned
        incidents, flags = owned(partition, output.incidents), owned(partition, output.flags)
        incidents = incident_messages(incidents, runtime.registry)
        flags = flag_messages(flags, runtime.registry)
        deliveries = await producer.send_keyed(
            topics.incidents, [i.incident_id.encode() for i in incidents],
            list(map(encode, incidents)),
        )
        deliveries += await producer.send_keyed(
            topics.flags, [f.flag_id.encode() for f in flags], list(map(encode, flags))
        )
        rejects = _late_rejects(output, alerts, halo)
        alert_ids = {r.index: alerts.alert_id[r.index] for r in rejects}
        for code in sorted({int(alerts.source[r.index]) for r in rejects}):
            deliveries += await publish_deadletters(
                producer, runtime, SOURCES[code], records,
                [r for r in rejects if alerts.source[r.index] == code], alert_ids,
            )
        runtime.metrics.flags.inc(len(flags))
        runtime.metrics.incidents.inc(len(incidents))
        return deliveries

    return Stage("correlate", (topics.normalized,), correlate, correlators.release)


class _Rejected(NamedTuple):
    records: list
    rejects: list[Reject]


def _decodable(polled: Polled, runtime: Runtime) -> tuple[Polled, _Rejected]:
    """The records of ``polled`` that decode as envelopes, and dead letters for the others.

    Slow (one value at a time): only run on a batch that failed to decode as a whole, which
    means a record on ``alerts.normalized`` that this pipeline did not write."""
    good, bad = [], []
    for i, value in enumerate(polled.values):
        try:
            decode_envelopes([value], runtime.registry)
            good.append(i)
        except msgspec.ValidationError as exc:  # JSON, but not an envelope
            bad.append((i, Reason.INVALID_VALUE, f"not a normalised envelope: {exc}"))
        except msgspec.DecodeError as exc:
            bad.append((i, Reason.MALFORMED_JSON, f"not a normalised envelope: {exc}"))
        except Exception as exc:  # noqa: BLE001 - a bug or an unknown code: keep the evidence
            bad.append((i, Reason.INTERNAL_ERROR, f"envelope failed to decode: {exc!r}"[:300]))
    rows = np.array(good, dtype=np.int64)
    kept = Polled(polled.topic, [polled.records[i] for i in good],
                  [polled.values[i] for i in good], polled.partitions[rows],
                  polled.last_offsets)
    records = [polled.records[i] for i, _, _ in bad]
    return kept, _Rejected(records, [Reject(j, reason, detail)
                                     for j, (_, reason, detail) in enumerate(bad)])


class _Rows:
    """``records[rows[i]]`` as a sequence, without copying the records of a whole poll."""

    def __init__(self, records: list, rows: np.ndarray) -> None:
        self.records, self.rows = records, rows

    def __getitem__(self, i: int):
        return self.records[self.rows[i]]

    def __len__(self) -> int:
        return len(self.rows)
