"""Ingest benchmark: alerts/s through the normalise stage of one worker, against the ceiling.

Same broker, same messages, same run:

* ceiling  — raw ``aiokafka`` consumption of the four feed topics plus decoding every value
             (``msgspec.json.decode``): what Python can pull off this broker at best;
* pipeline — the real worker (normalise stage: decode, validate, normalise, publish envelopes
             and dead letters; correlator and sinks writing chDB in the same process), timed from
             its first batch to its last on the feed topics.

Each is run ``--runs`` times; medians and their ratio are printed.

    PYTHONPATH=. .venv/bin/python benchmarks/ingest.py --messages 200000 --runs 3

(``PYTHONPATH=.`` measures this checkout, not whatever copy the venv has installed.)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from pipeline.alerts import SOURCES
from pipeline.kafka import EmbeddedBroker, ensure_topics, send_chunks
from pipeline.replay import read_jsonl_chunks
from pipeline.settings import Settings, TopicNames
from pipeline.sim import run_simulation, scale_for_total


def run_topics(tag: str) -> TopicNames:
    """Fresh topics per run, so no run reads another run's output."""
    return TopicNames(**{k: f"{tag}.{v}" for k, v in TopicNames().model_dump().items()})


def simulate(out: Path, messages: int) -> tuple[Path, Path, int]:
    duration = timedelta(hours=6)
    start = datetime.now(UTC).replace(microsecond=0) - duration
    files = run_simulation(
        out,
        seed=3,
        start=start,
        duration=duration,
        scale=scale_for_total(messages, duration, start),
        n_hotspots=2,
    )
    return files.registry, files.replay, files.records


async def raw_ceiling(bootstrap: str, topics: TopicNames, total: int) -> float:
    """Alerts/s of raw aiokafka consumption plus msgspec decoding of the feed topics."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics.feeds().values()
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        decode = msgspec.json.decode
        seen = 0
        began = time.perf_counter()
        while seen < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=20_000)).values():
                for record in records:
                    try:
                        decode(record.value)
                    except msgspec.DecodeError:
                        pass  # malformed input is part of the realistic mix
                seen += len(records)
        return seen / (time.perf_counter() - began)
    finally:
        await consumer.stop()


def _pipeline_run(settings: Settings, queue) -> None:
    from jobs.runtime import open_runtime
    from jobs.worker import run_worker

    with open_runtime(settings) as runtime:
        run_worker(runtime, until_drained=True, loglevel="error")
        agents = ["normalize"]
        timing = [runtime.progress.timing[a] for a in agents if a in runtime.progress.timing]
    first = min(t[0] for t in timing)
    last = max(t[1] for t in timing)
    queue.put((sum(t[2] for t in timing), last - first))


def pipeline(bootstrap: str, topics: TopicNames, registry: Path, work: Path) -> float:
    tag = topics.camera.split(".")[0]
    settings = Settings(
        data_dir=work / f"run-{tag}",
        broker_url=f"kafka://{bootstrap}",
        registry_path=registry,
        app_id=f"bench-{tag}",
        partitions=4,
        max_age_s=0,
        topics=topics,
    )
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_pipeline_run, args=(settings, queue))
    process.start()
    count, seconds = queue.get(timeout=1800)
    process.join()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        registry, replay, total = simulate(work / "sim", args.messages)
        load_before = os.getloadavg()[0]
        ceiling, ours = [], []
        for run in range(args.runs):
            topics = run_topics(uuid.uuid4().hex[:6])
            ensure_topics(broker.bootstrap, topics.all(), 4)
            renamed = {f"alerts.{s}": topics.feed(s) for s in SOURCES}
            sent = send_chunks(read_jsonl_chunks(replay, []), broker.bootstrap, topic_map=renamed)
            ceiling.append(asyncio.run(raw_ceiling(broker.bootstrap, topics, sent)))
            ours.append(pipeline(broker.bootstrap, topics, registry, work))
            print(f"run {run + 1}: ceiling {ceiling[-1]:>10,.0f}/s   pipeline {ours[-1]:>10,.0f}/s")
        c, p = statistics.median(ceiling), statistics.median(ours)
        print(
            f"\nmedian of {args.runs} runs, {sent:,} messages each on Tansu; load average "
            f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
        print(f"  raw aiokafka + decode (ceiling) {c:>10,.0f} alerts/s")
        print(f"  normalise stage, one worker     {p:>10,.0f} alerts/s")
        print(f"  pipeline / ceiling              {p / c:>10.2f}")


if __name__ == "__main__":
    main()
