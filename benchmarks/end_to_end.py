"""End-to-end benchmark (issue 6): the worker against the broker's ceiling and a naive agent.

Same broker (Tansu), same realistic mix of the four feeds, same run, side by side:

* ceiling  — raw ``aiokafka`` consumption of the feed topics plus ``msgspec`` decoding;
* naive    — a plain Faust agent per feed, default settings, decoding and counting per event;
* pipeline — the worker (normalise, publish, correlate, sink to chDB), one process, timed
             from its first input batch to the last batch of any stage; peak RSS and peak
             anonymous RSS reported.

Then live latency: the feeds are produced at fixed rates (``--rates``) for ``--seconds``, with
event time running ``--speed`` times faster than the wall clock (so correlation windows slide
during a short run). Event-to-flag latency of a flag = when it reached ``hotspots.flags``
(its record timestamp) minus when the feed message that moved the watermark past its slide
boundary was produced. That message is the first, in send order, whose running maximum event
time exceeds boundary + allowed lateness over *all* partitions; a partition's own trigger comes
at or after it, so the figure is an upper bound. Medians of ``--runs``; ratios printed.

The simulated city is dense (100k messages in 30 min over 432 km², about 450 alerts per km² per
hour), far above the default baseline prior (5 per km² per hour) of a worker without a fitted
baseline, so most busy cells flag and update every slide; ``--prior-rate 450`` runs the worker
as if configured for this city, with far fewer flag events (printed per run).

    PYTHONPATH=. .venv/bin/python benchmarks/end_to_end.py                 # about 5 minutes
    PYTHONPATH=. .venv/bin/python benchmarks/end_to_end.py --messages 200000 --runs 3 \\
        --rates 1000,10000,50000 --seconds 10
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
import numpy as np
from ingest import raw_ceiling  # the same ceiling as the ingest benchmark (script folder)

from pipeline.alerts import SOURCES
from pipeline.kafka import EmbeddedBroker, ensure_topics, send_chunks
from pipeline.replay import read_jsonl, read_jsonl_chunks
from pipeline.settings import Settings, TopicNames
from pipeline.sim import run_simulation, scale_for_total

PARTITIONS = 4
KEY = "benchmark-pseudonym-key-0123456789"


def run_topics() -> TopicNames:
    tag = uuid.uuid4().hex[:6]
    return TopicNames(**{k: f"{tag}.{v}" for k, v in TopicNames().model_dump().items()})


def simulate(out: Path, messages: int, span: timedelta, seed: int = 3):
    start = datetime.now(UTC).replace(microsecond=0) - span
    return run_simulation(
        out,
        seed=seed,
        start=start,
        duration=span,
        scale=scale_for_total(messages, span, start),
        n_hotspots=3,
    )


def settings_for(
    work: Path, bootstrap: str, topics: TopicNames, registry: Path, prior_rate: float | None = None
) -> Settings:
    """The worker's settings; ``prior_rate`` (alerts per km² per hour) replaces the default
    baseline prior (see ``--prior-rate``)."""
    prior = {} if prior_rate is None else {"baseline_prior_rate_km2_h": prior_rate}
    return Settings(
        data_dir=work / f"run-{topics.camera.split('.')[0]}",
        broker_url=f"kafka://{bootstrap}",
        registry_path=registry,
        app_id=f"bench-{uuid.uuid4().hex[:6]}",
        partitions=PARTITIONS,
        max_age_s=0,
        topics=topics,
        pseudonym_key=KEY,
        **prior,
    )


def in_child(target, *args):
    """Run ``target(*args, queue)`` in a fresh process; return what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get(timeout=900)
    process.join()
    return result


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakAnonymous:
    """Highest anonymous RSS of this process while the block runs, sampled every 20 ms (MiB).

    RSS also counts file-backed pages: about 350 MiB of them are chDB's mapped library code,
    shared and evictable. Anonymous memory is what the worker's data costs."""

    def __enter__(self) -> PeakAnonymous:
        import threading

        self.mib, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            with open("/proc/self/status") as status:
                kib = next(int(line.split()[1]) for line in status if line.startswith("RssAnon"))
            self.mib = max(self.mib, kib / 1024)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# --- the three contenders -----------------------------------------------------------------------


def _naive_run(bootstrap: str, topics: TopicNames, total: int, datadir: str, queue) -> None:
    """A Faust agent per feed as a user would write it: default settings, one event at a time."""
    import faust

    from pipeline.kafka.embedded import free_port

    app = faust.App(
        f"naive-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        store="memory://",
        datadir=datadir,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        web_port=free_port(),
        web_host="127.0.0.1",
    )
    worker = faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False)
    seen = {"n": 0, "first": None}

    async def count(stream):
        async for value in stream:
            try:
                msgspec.json.decode(value)
            except msgspec.DecodeError:
                pass
            seen["first"] = seen["first"] or time.perf_counter()
            seen["n"] += 1
            if seen["n"] == total:
                queue.put(total / (time.perf_counter() - seen["first"]))
                asyncio.ensure_future(worker.stop())

    for source, topic in topics.feeds().items():
        app.agent(app.topic(topic), name=f"count_{source}")(count)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        pass


def _pipeline_run(settings: Settings, queue) -> None:
    from jobs.runtime import open_runtime
    from jobs.worker import run_worker

    with PeakAnonymous() as anon, open_runtime(settings) as runtime:
        run_worker(runtime, until_drained=True, loglevel="error")
        timing = runtime.progress.timing
        sample = runtime.metrics.registry.get_sample_value
        busy = sample("hotspot_stage_seconds_sum", {"stage": "normalize"})
        taken = sample("hotspot_stage_records_total", {"stage": "normalize"})
        stages = {name: sample("hotspot_stage_seconds_sum", {"stage": name}) for name in timing}
        flag_events = sample("hotspot_flag_events_total")
    first = timing["normalize"][0]
    last = max(t[1] for t in timing.values())
    # the normalise stage's own rate: records over the time it spent on its batches
    queue.put(
        (
            timing["normalize"][2],
            last - first,
            taken / busy,
            peak_rss_mib(),
            anon.mib,
            stages,
            flag_events,
        )
    )


def throughput_run(
    broker, work: Path, replay: Path, registry: Path, prior_rate: float | None
) -> dict:
    topics = run_topics()
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    renamed = {f"alerts.{s}": topics.feed(s) for s in SOURCES}
    sent = send_chunks(read_jsonl_chunks(replay, []), broker.bootstrap, topic_map=renamed)
    ceiling = asyncio.run(raw_ceiling(broker.bootstrap, topics, sent))
    naive = in_child(_naive_run, broker.bootstrap, topics, sent, str(work / f"naive-{id(topics)}"))
    count, seconds, normalize_rate, rss, anon, busy, flag_events = in_child(
        _pipeline_run, settings_for(work, broker.bootstrap, topics, registry, prior_rate)
    )
    print(
        f"  worker busy s per stage (wall {seconds:.1f} s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(busy.items())),
        flush=True,
    )
    return {
        "messages": sent,
        "ceiling": ceiling,
        "naive": naive,
        "pipeline": count / seconds,
        "normalize": normalize_rate,
        "rss_mib": rss,
        "anon_mib": anon,
        "flag_events": flag_events,
        "load": os.getloadavg()[0],
    }


# --- live latency ---------------------------------------------------------------------------


def _live_worker(settings: Settings, ready, inputs_complete, queue) -> None:
    from jobs.runtime import open_runtime
    from jobs.worker import run_worker

    with PeakAnonymous() as anon, open_runtime(settings) as runtime:
        run_worker(
            runtime,
            until_drained=True,
            inputs_complete=inputs_complete,
            ready=ready,
            loglevel="error",
        )
    queue.put((time.time(), peak_rss_mib(), anon.mib))


async def _paced_send(bootstrap: str, records: list, rate: float) -> np.ndarray:
    """Send ``records`` (topic, value) at ``rate``/s; returns each one's hand-over wall time."""
    from pipeline.kafka import BatchProducer

    producer = BatchProducer(
        bootstrap, linger_ms=1, max_batch_bytes=256 << 10, max_request_bytes=8 << 20
    )
    await producer.start()
    sent_at, deliveries = np.zeros(len(records)), []
    try:
        began, done = time.perf_counter(), 0
        while done < len(records):
            due = min(len(records), int((time.perf_counter() - began) * rate) + 1)
            chunk = records[done:due]
            now = time.time()
            for topic in {t for t, _ in chunk}:
                values = [v for t, v in chunk if t == topic]
                parts = np.arange(done, done + len(values)) % PARTITIONS
                deliveries += await producer.send(topic, parts, [None] * len(values), values)
            sent_at[done:due] = now
            done = due
            await asyncio.sleep(0.005)
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return sent_at


def _event_times(records: list, settings: Settings) -> np.ndarray:
    """Event time of every record in send order (-1 where it is rejected)."""
    from pipeline.geo.admin_units import load_registry
    from pipeline.normalize import NormalizeContext, normalize

    ctx = NormalizeContext.from_settings(settings, load_registry(settings.registry_path))
    out = np.full(len(records), -1, np.int64)
    topic_source = {t: s for s, t in settings.topics.feeds().items()}
    topics = np.array([t for t, _ in records], dtype=object)
    for topic, source in topic_source.items():
        slots = np.flatnonzero(topics == topic)
        batch = normalize(source, [records[i][1] for i in slots], ctx)
        out[slots[batch.index]] = batch.alerts.event_ms
    return out


async def _read_all(bootstrap: str, topic: str) -> list:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records = {}
        while True:
            fetched = await consumer.getmany(timeout_ms=500)
            for batch in fetched.values():
                records.update(((r.partition, r.offset), r) for r in batch)
            ends = [consumer.highwater(tp) for tp in tps]
            at_end = [
                e is not None and await consumer.position(tp) >= e
                for tp, e in zip(tps, ends, strict=True)
            ]
            if not fetched and all(at_end):
                return list(records.values())
    finally:
        await consumer.stop()


def latency_run(
    broker, work: Path, rate: float, seconds: float, speed: float, prior_rate: float | None = None
) -> dict:
    from pipeline.correlate import FlagEvent

    span = timedelta(seconds=seconds * speed)
    sim = simulate(work / f"live-{rate:.0f}", int(rate * seconds), span)
    topics = run_topics()
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    settings = settings_for(work, broker.bootstrap, topics, sim.registry, prior_rate)
    records = [(topics.feed(r.topic.split(".", 1)[1]), r.value) for r in read_jsonl(sim.replay)]
    event_ms = _event_times(records, settings)

    context = multiprocessing.get_context("spawn")
    ready, complete, queue = context.Event(), context.Event(), context.Queue()
    worker = context.Process(target=_live_worker, args=(settings, ready, complete, queue))
    worker.start()
    ready.wait(120)
    sent_at = asyncio.run(_paced_send(broker.bootstrap, records, rate))
    send_end = time.time()
    complete.set()
    drained_at, rss, anon = queue.get(timeout=900)
    worker.join()

    flags = asyncio.run(_read_all(broker.bootstrap, topics.flags))
    running_max = np.maximum.accumulate(event_ms)
    lateness = settings.correlation.lateness_ms
    latencies = []
    decoder = msgspec.json.Decoder(FlagEvent)
    for record in flags:
        flag = decoder.decode(record.value)
        trigger = int(np.searchsorted(running_max, flag.boundary_ms + lateness, "right"))
        if trigger < len(records):
            latencies.append(record.timestamp / 1000 - sent_at[trigger])
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "rate": rate,
        "messages": len(records),
        "achieved": len(records) / max(1e-9, sent_at[-1] - sent_at[0]),
        "flags": len(latencies),
        "p50": float(np.nanpercentile(lat, 50)),
        "p99": float(np.nanpercentile(lat, 99)),
        "drain_s": drained_at - send_end,
        "rss_mib": rss,
        "anon_mib": anon,
        "load": os.getloadavg()[0],
    }


# --- report ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--span-min",
        type=float,
        default=30.0,
        help="event-time span of the throughput data, minutes",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default="1000,10000,50000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--prior-rate",
        type=float,
        default=None,
        help="baseline prior, alerts per km² per hour (default: the settings' "
        "5.0, far below this dense city's rate, so most busy cells flag)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        if not args.skip_throughput:
            sim = simulate(work / "sim", args.messages, timedelta(minutes=args.span_min))
            runs = []
            for i in range(args.runs):
                runs.append(throughput_run(broker, work, sim.replay, sim.registry, args.prior_rate))
                r = runs[-1]
                print(
                    f"run {i + 1}: ceiling {r['ceiling']:,.0f}/s  naive {r['naive']:,.0f}/s  "
                    f"pipeline {r['pipeline']:,.0f}/s (normalise stage {r['normalize']:,.0f}/s)"
                    f"  flag events {r['flag_events']:,.0f}"
                    f"  peak RSS {r['rss_mib']:,.0f} MiB (anonymous {r['anon_mib']:,.0f})"
                    f"  load {r['load']:.1f}",
                    flush=True,
                )
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(
                f"\n### Throughput: {runs[0]['messages']:,} messages over {args.span_min:g} "
                f"min of event time, median of {args.runs} runs\n"
            )
            print("| contender | alerts/s | vs ceiling | pipeline vs it |\n|---|---|---|---|")
            for name, label in (
                ("ceiling", "raw aiokafka + msgspec decode"),
                ("naive", "naive Faust agent (decode + count per event)"),
                ("normalize", "worker: normalise stage, busy time only"),
                ("pipeline", "worker: normalise + correlate + warehouse"),
            ):
                print(
                    f"| {label} | {med[name]:,.0f} | {med[name] / med['ceiling']:.3f} | "
                    f"{med['pipeline'] / med[name]:.2f}x |"
                )
            print(
                f"\npeak worker RSS {med['rss_mib']:,.0f} MiB (anonymous "
                f"{med['anon_mib']:,.0f} MiB); load average {med['load']:.1f}"
            )
        print(
            "\n### Live latency (event time at "
            f"{args.speed:g}x wall clock, {args.seconds:g} s per rate)\n"
        )
        print(
            "| target rate | achieved | flags | p50 s | p99 s | drain after input s | "
            "peak RSS MiB | peak anonymous MiB | load |\n|---|---|---|---|---|---|---|---|---|"
        )
        for rate in (float(r) for r in args.rates.split(",")):
            r = latency_run(broker, work, rate, args.seconds, args.speed, args.prior_rate)
            print(
                f"| {rate:,.0f}/s | {r['achieved']:,.0f}/s | {r['flags']} | {r['p50']:.2f} | "
                f"{r['p99']:.2f} | {r['drain_s']:.1f} | {r['rss_mib']:,.0f} | "
                f"{r['anon_mib']:,.0f} | {r['load']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
