"""What the hop through ``alerts.normalized`` costs one thread, next to the raw ceiling (issue 6).

The worker normalises the four feeds, publishes them to ``alerts.normalized`` routed by tile
(with halo copies: 1.7-1.8 rows per alert), as Arrow record batches of many alerts per Kafka
record, and consumes them back for its correlators. This measures, on the same realistic mix
and broker, single-threaded and without the worker around it:

* ceiling   — raw aiokafka consumption plus msgspec decoding of the feed topics (as in
              ``end_to_end.py``);
* normalise — :func:`pipeline.normalize.normalize` over the decoded feed values;
* encode    — :func:`pipeline.envelope.envelope_table`, routing, and
              :func:`pipeline.envelope.encode_envelopes` per partition;
* produce   — :class:`pipeline.kafka.BatchProducer` sending the records, until delivered;
* consume   — aiokafka reading the records back;
* decode    — :func:`pipeline.envelope.decode_envelopes` into the correlator's columns.

Each step is timed per input alert, in wall time and in CPU time of the calling thread: Arrow
compresses the records (ZSTD) in its own threads, without the interpreter lock, so for the
worker's one Python thread the thread's time is what counts. The ceiling stands for consuming
the feeds, and the sum of it and the steps (thread time where measured), with no correlation
and no warehouse at all, bounds what one thread can do with this topology (it counts the feed
JSON parse twice, once in the ceiling and once in normalise: about 1 µs too much). The ratio
to the ceiling is printed. Medians of ``--runs``.

    PYTHONPATH=. .venv/bin/python benchmarks/hop_cost.py --messages 100000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from end_to_end import PARTITIONS, run_topics, settings_for, simulate
from ingest import raw_ceiling

from pipeline.alerts import SOURCES
from pipeline.kafka import EmbeddedBroker, ensure_topics, send_chunks
from pipeline.replay import read_jsonl, read_jsonl_chunks

STEPS = ("normalise", "encode", "produce", "consume", "decode")
CPU_STEPS = ("normalise", "encode", "decode")  # timed in the thread's CPU time too


class _Timer:
    """Wall and calling-thread CPU seconds of a block."""

    def __enter__(self) -> _Timer:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.thread_time() - self._cpu


async def _consume_all(bootstrap: str, topic: str, total: int) -> tuple[list[bytes], float]:
    """The values of ``topic``, and the seconds spent reading them (after connecting)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=32 << 20,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        values: list[bytes] = []
        began = time.perf_counter()
        while len(values) < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=20_000)).values():
                values += [r.value for r in records]
        return values, time.perf_counter() - began
    finally:
        await consumer.stop()


async def _produce(bootstrap: str, settings, topic: str, parts: list) -> float:
    """Seconds to send ``parts`` until every record is delivered (after connecting)."""
    from pipeline.kafka import BatchProducer

    producer = BatchProducer.from_settings(bootstrap, settings)
    await producer.start()
    try:
        await producer.partitions(topic)  # metadata first: not part of sending
        began, deliveries = time.perf_counter(), []
        for partitions, keys, values in parts:
            deliveries += await producer.send(topic, partitions, keys, values)
        await asyncio.gather(*deliveries)
        return time.perf_counter() - began
    finally:
        await producer.stop()


def one_run(broker, work: Path, replay: Path, registry_path: Path) -> dict[str, float]:
    from pipeline.envelope import decode_envelopes, encode_envelopes, envelope_table
    from pipeline.geo.admin_units import load_registry
    from pipeline.normalize import NormalizeContext, normalize
    from pipeline.routing import TileRouting

    topics = run_topics()
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    renamed = {f"alerts.{s}": topics.feed(s) for s in SOURCES}
    records = list(read_jsonl(replay))
    sent = send_chunks(read_jsonl_chunks(replay, []), broker.bootstrap, topic_map=renamed)
    ceiling = asyncio.run(raw_ceiling(broker.bootstrap, topics, sent))

    settings = settings_for(work, broker.bootstrap, topics, registry_path, "hop-cost")
    registry = load_registry(registry_path)
    ctx = NormalizeContext.from_settings(settings, registry)
    routing = TileRouting.from_settings(settings, registry)
    by_feed: dict[str, list[bytes]] = {}
    for record in records:
        by_feed.setdefault(record.topic.split(".")[-1], []).append(record.value)
    seconds, cpu = dict.fromkeys(STEPS, 0.0), {}

    with _Timer() as timer:
        batches = [normalize(source, values, ctx) for source, values in by_feed.items()]
    seconds["normalise"], cpu["normalise"] = timer.wall, timer.cpu

    parts, envelopes, copies = [], 0, 0
    with _Timer() as timer:
        for batch in batches:
            table = envelope_table(batch, registry)
            routed = routing.route(batch.alerts.lat, batch.alerts.lon)
            for p in np.unique(routed.partition).tolist():  # loop per partition
                rows = routed.partition == p
                values = encode_envelopes(
                    table, routed.row[rows], routed.key[rows], routed.halo[rows]
                )
                parts.append((np.full(len(values), p), [None] * len(values), values))
                envelopes += len(values)
            copies += len(routed.row)
    seconds["encode"], cpu["encode"] = timer.wall, timer.cpu

    seconds["produce"] = asyncio.run(_produce(broker.bootstrap, settings, topics.normalized, parts))
    values, seconds["consume"] = asyncio.run(
        _consume_all(broker.bootstrap, topics.normalized, envelopes)
    )

    with _Timer() as timer:
        decode_envelopes(values, registry)
    seconds["decode"], cpu["decode"] = timer.wall, timer.cpu

    alerts = sum(len(b.alerts) for b in batches)
    out = {step: s / alerts * 1e6 for step, s in seconds.items()}  # µs per alert
    out |= {f"{step}_cpu": s / alerts * 1e6 for step, s in cpu.items()}
    out |= {
        "ceiling_us": 1e6 / ceiling,
        "copies": copies / alerts,
        "alerts": alerts,
        "messages": sent,
        "records": envelopes,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--span-min", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from datetime import timedelta

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        sim = simulate(work / "city", args.messages, timedelta(minutes=args.span_min))
        runs = [one_run(broker, work, sim.replay, sim.registry) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    thread = {step: med.get(f"{step}_cpu", med[step]) for step in STEPS}
    print(
        f"\n{int(med['messages']):,} messages, {int(med['alerts']):,} alerts, "
        f"{med['copies']:.2f} rows per alert in {int(med['records']):,} records, "
        f"median of {args.runs}; load {os.getloadavg()[0]:.1f}\n"
    )
    print("| step | µs per alert, wall | µs per alert, the thread's CPU | thread vs ceiling |")
    print("|---|---|---|---|")
    print(f"| ceiling: consume + decode the feeds | {med['ceiling_us']:.2f} | | 1.00 |")
    for step in STEPS:
        own = f"{thread[step]:.2f}" if step in CPU_STEPS else "(wall)"
        print(f"| {step} | {med[step]:.2f} | {own} | {thread[step] / med['ceiling_us']:.2f} |")
    total = med["ceiling_us"] + sum(thread.values())
    print(
        f"| ceiling + all steps (no correlation, no warehouse) | | {total:.2f} | "
        f"{total / med['ceiling_us']:.2f} |"
    )
    print(
        f"\nupper bound for one thread with this topology: {1e6 / total:,.0f} alerts/s, "
        f"{med['ceiling_us'] / total:.1%} of the ceiling"
    )


if __name__ == "__main__":
    main()
