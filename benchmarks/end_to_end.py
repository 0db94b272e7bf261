"""End-to-end benchmark (issues 6 and 17): the worker as 1 and as N processes in one consumer
group, against the broker's ceiling and a naive agent.

Same broker (Tansu), same realistic mix of the four feeds, same run, side by side:

* ceiling  — raw ``aiokafka`` consumption of the feed topics plus ``msgspec`` decoding;
* naive    — a plain Faust agent per feed, default settings, decoding and counting per event
             (``--skip-naive`` leaves it out);
* workers  — the worker (normalise, publish, correlate, sink to chDB) as each count in
             ``--workers`` (default ``1,2``) of separate processes in one consumer group: the
             same topics, each process its own data directory and chDB folder (chDB allows one
             process per directory). The feeds are sent first, as a backlog; each process
             opens its runtime, and then all start their consumers together, so that the first
             to join does not take input that a rebalance then moves to the next (the number of
             partitions that moved anyway is printed). A count is timed from the first input
             batch of any of its processes to the last batch of any stage; the benchmark, not a
             worker, decides when the group has drained (every record of every topic it reads
             committed). Counts run in alternating order from one run to the next.

Medians of ``--runs``, with ratios: each contender against the ceiling, and each count of
processes against one process. For each count also:

* CPU µs per alert: the user + system CPU time of each process (``getrusage``) from the moment
  it holds its partitions to the moment the group has drained, summed over the processes and
  divided by the feed messages. Per stage: the stage's busy time (``hotspot_stage_seconds``,
  wall time of its batches) per message, and the CPU shared out by busy time. The latter is an
  approximation: stages overlap on the event loop and their threads wait for the interpreter
  lock, so the busy time of a stage is not its CPU.
* Outputs against one process in the same run: flag versions by (flag id, version) and
  incidents by id, byte for byte, and the late dead letters; printed as identical or not.
* The broker's CPU µs per alert over the same span (sampled every 0.1 s from ``/proc``), so
  that the cores left for the workers can be read off.

Then live latency, for each rate and each count: the feeds are produced at fixed rates
(``--rates``) for ``--seconds``, with event time running ``--speed`` times faster than the wall
clock (so correlation windows slide during a short run). Event-to-flag latency of a flag = when
it reached ``hotspots.flags`` (its record timestamp) minus when a feed message was produced,
in two columns:

* **p50 s, p99 s**: the first message, in send order, whose event time exceeds the flag's
  boundary + allowed lateness: how long after the city's clock passed the boundary the flag
  came out (what the column meant before watermarks per feed partition);
* **every partition**: the message after which *every* feed partition has sent one that does.
  A correlator's watermark is the least progress over the feed partitions (issue 17 item 4),
  so no flag can come out before it; this is the worker's own share. The difference is the
  wait for the slowest feed partition to declare the boundary passed.

Records go to the feed partitions in turn (by send position), so both are known afterwards.

The simulated city is dense (100k messages in 30 min over 432 km², about 450 alerts per km² per
hour), far above the default baseline prior (5 per km² per hour) of a worker without a fitted
baseline, so most busy cells flag and update every slide; ``--prior-rate 450`` runs the worker
as if configured for this city, with far fewer flag events (printed per run).

    PYTHONPATH=. .venv/bin/python benchmarks/end_to_end.py                 # about 8 minutes
    PYTHONPATH=. .venv/bin/python benchmarks/end_to_end.py --messages 200000 --runs 3 \\
        --rates 1000,10000,50000 --seconds 10
    PYTHONPATH=. .venv/bin/python benchmarks/end_to_end.py --workers 1 --skip-naive  # one process
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np
from ingest import raw_ceiling  # the same ceiling as the ingest benchmark (script folder)
from worker_group import (
    Outputs,
    ProcessReport,
    WorkerGroup,
    compare_outputs,
    moved_partitions,
    read_outputs,
    read_topic,
)

from pipeline.alerts import SOURCES
from pipeline.kafka import EmbeddedBroker, ensure_topics, send_chunks
from pipeline.replay import read_jsonl, read_jsonl_chunks
from pipeline.settings import Settings, TopicNames
from pipeline.sim import SHANGHAI, run_simulation, scale_for_total

PARTITIONS = 4
KEY = "benchmark-pseudonym-key-0123456789"


def run_topics() -> TopicNames:
    tag = uuid.uuid4().hex[:6]
    return TopicNames(**{k: f"{tag}.{v}" for k, v in TopicNames().model_dump().items()})


def daytime_start(span: timedelta, now: datetime | None = None) -> datetime:
    """The start of a ``span`` that ends at the latest 16:00 in the simulated city (Shanghai)
    before ``now``. Grid reports come only in the daytime: a span at night leaves the grid
    feed's partitions without records, so they declare no progress, the correlators' watermark
    stays put until the idle marks (60 s) and a run drains with no flag and no incident."""
    now = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    end = now.replace(hour=16, minute=0, second=0, microsecond=0)
    if end > now:
        end -= timedelta(days=1)
    return end - span


def simulate(out: Path, messages: int, span: timedelta, seed: int = 3):
    start = daytime_start(span)
    return run_simulation(
        out,
        seed=seed,
        start=start,
        duration=span,
        scale=scale_for_total(messages, span, start),
        n_hotspots=3,
    )


def settings_for(
    data_dir: Path,
    bootstrap: str,
    topics: TopicNames,
    registry: Path,
    app_id: str,
    prior_rate: float | None = None,
) -> Settings:
    """One worker process's settings; ``prior_rate`` (alerts per km² per hour) replaces the
    default baseline prior (see ``--prior-rate``)."""
    prior = {} if prior_rate is None else {"baseline_prior_rate_km2_h": prior_rate}
    return Settings(
        data_dir=data_dir,
        broker_url=f"kafka://{bootstrap}",
        registry_path=registry,
        app_id=app_id,
        partitions=PARTITIONS,
        max_age_s=0,
        topics=topics,
        pseudonym_key=KEY,
        **prior,
    )


def group_settings(
    work: Path, bootstrap: str, topics: TopicNames, registry: Path, workers: int, prior_rate
) -> list[Settings]:
    """Settings of ``workers`` processes in one new group, each with its own data directory."""
    tag = uuid.uuid4().hex[:6]
    return [
        settings_for(
            work / f"run-{tag}-w{i}", bootstrap, topics, registry, f"bench-{tag}", prior_rate
        )
        for i in range(workers)
    ]


def in_child(target, *args):
    """Run ``target(*args, queue)`` in a fresh process; return what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get(timeout=900)
    process.join()
    return result


# --- the contenders -----------------------------------------------------------------------------


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
        web_bind="127.0.0.1",  # Faust binds to web_bind; web_host only names it in URLs
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


def _span(reports: list[ProcessReport]) -> tuple[float, float]:
    """First input batch of any process, last batch of any stage of any process (monotonic)."""
    first = min(r.timing["normalize"][0] for r in reports if "normalize" in r.timing)
    last = max(t[1] for r in reports for t in r.timing.values())
    return first, last


def cpu_per_alert(reports: list[ProcessReport], messages: int) -> dict[str, tuple[float, float]]:
    """Stage -> (busy µs per message, CPU µs per message shared out by busy time), summed over
    the processes; ``"process"`` -> (wall µs of the span per message, all CPU µs per
    message)."""
    per = 1e6 / messages
    out: dict[str, tuple[float, float]] = {}
    for report in reports:
        busy = sum(report.busy_s.values()) or 1.0
        for stage, seconds in report.busy_s.items():
            was = out.get(stage, (0.0, 0.0))
            out[stage] = (was[0] + seconds * per, was[1] + report.cpu_s * seconds / busy * per)
    first, last = _span(reports)
    out["process"] = ((last - first) * per, sum(r.cpu_s for r in reports) * per)
    return out


class CpuTrace:
    """``cpu_s()`` sampled every ``every_s`` in a thread while the block runs, so that the CPU
    of another process (the broker) can be read over any span of the monotonic clock: the
    group's span, not the drain check's tail after it."""

    def __init__(self, cpu_s, every_s: float = 0.1) -> None:
        self._cpu_s, self._every_s = cpu_s, every_s
        self.samples: list[tuple[float, float]] = []

    def __enter__(self) -> CpuTrace:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._sample_once()
        self._thread.start()
        return self

    def _sample_once(self) -> None:
        self.samples.append((time.monotonic(), self._cpu_s()))

    def _sample(self) -> None:
        while not self._stop.wait(self._every_s):
            self._sample_once()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_once()

    def over(self, first: float, last: float) -> float:
        """CPU seconds between the monotonic times ``first`` and ``last`` (interpolated)."""
        times, cpu = np.array(self.samples).T
        return float(np.interp(last, times, cpu) - np.interp(first, times, cpu))


def group_run(
    broker,
    work: Path,
    replay: Path,
    registry: Path,
    workers: int,
    prior_rate: float | None,
    pin: bool = False,
) -> tuple[dict, Outputs]:
    """``workers`` processes drain the replay, sent before they start (a backlog)."""
    topics = run_topics()
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    settings = group_settings(work, broker.bootstrap, topics, registry, workers, prior_rate)
    renamed = {f"alerts.{s}": topics.feed(s) for s in SOURCES}
    sent = send_chunks(read_jsonl_chunks(replay, []), broker.bootstrap, topic_map=renamed)
    with WorkerGroup(settings, pin=pin) as group:
        with CpuTrace(broker.cpu_s) as broker_trace:
            group.wait_drained(sent)
        reports = group.stop()
    first, last = _span(reports)
    broker_cpu = broker_trace.over(first, last)
    count = sum(r.timing["normalize"][2] for r in reports if "normalize" in r.timing)
    return {
        "messages": sent,
        "rate": count / (last - first),
        "span": (first, last),
        "moved": moved_partitions(reports),
        "cpu": cpu_per_alert(reports, sent) | {"broker": (0.0, broker_cpu * 1e6 / sent)},
        "rss_mib": max(r.rss_mib for r in reports),
        "anon_mib": max(r.anon_mib for r in reports),
        "flag_events": sum(r.flag_events for r in reports),
    }, read_outputs(broker.bootstrap, topics)


def throughput_run(
    broker,
    work: Path,
    replay: Path,
    registry: Path,
    prior_rate: float | None,
    order: list[int],
    naive: bool,
    pin: bool = False,
) -> dict:
    """The ceiling (and the naive agent), then each count of processes in ``order``."""
    topics = run_topics()
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    renamed = {f"alerts.{s}": topics.feed(s) for s in SOURCES}
    sent = send_chunks(read_jsonl_chunks(replay, []), broker.bootstrap, topic_map=renamed)
    result = {"messages": sent, "ceiling": asyncio.run(raw_ceiling(broker.bootstrap, topics, sent))}
    if naive:
        result["naive"] = in_child(
            _naive_run, broker.bootstrap, topics, sent, str(work / f"naive-{id(topics)}")
        )
    outputs = {}
    for workers in order:
        result[workers], outputs[workers] = group_run(
            broker, work, replay, registry, workers, prior_rate, pin
        )
    one = min(order)
    result["same"] = {n: compare_outputs(outputs[one], outputs[n]) for n in order if n != one}
    result["load"] = os.getloadavg()[0]
    return result


# --- live latency ---------------------------------------------------------------------------


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
                slots = [done + k for k, (t, _) in enumerate(chunk) if t == topic]
                values = [records[k][1] for k in slots]
                parts = sent_partition(np.array(slots))
                deliveries += await producer.send(topic, parts, [None] * len(values), values)
            sent_at[done:due] = now
            done = due
            await asyncio.sleep(0.005)
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return sent_at


def sent_partition(position: np.ndarray) -> np.ndarray:
    """The feed partition the live run sends the record at ``position`` (in send order) to:
    in turn, so where a record goes does not depend on the pacing."""
    return np.asarray(position) % PARTITIONS


def origin_triggers(
    event_ms: np.ndarray, origin: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``thresholds`` (a boundary plus the allowed lateness), the send position of
    the first record whose event time exceeds it (``first``), and of the record after which
    every origin's has (``every``: the correlators' watermark is the least progress over the
    feed partitions, :mod:`pipeline.correlate.window.event_time`). ``len(event_ms)`` where
    none is; ``event_ms`` -1: a rejected record, which moves nothing. A loop per origin."""
    n = len(event_ms)
    first = np.searchsorted(np.maximum.accumulate(event_ms), thresholds, "right")
    every = np.zeros(len(thresholds), np.int64)
    for o in np.unique(origin):
        at = np.flatnonzero(origin == o)
        k = np.searchsorted(np.maximum.accumulate(event_ms[at]), thresholds, "right")
        every = np.maximum(every, np.where(k < len(at), at[np.minimum(k, len(at) - 1)], n))
    return first, every


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


def latency_run(
    broker,
    work: Path,
    sim,
    rate: float,
    workers: int,
    prior_rate: float | None = None,
    pin: bool = False,
) -> dict:
    from pipeline.correlate import FlagEvent

    topics = run_topics()
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    settings = group_settings(work, broker.bootstrap, topics, sim.registry, workers, prior_rate)
    records = [(topics.feed(r.topic.split(".", 1)[1]), r.value) for r in read_jsonl(sim.replay)]
    event_ms = _event_times(records, settings[0])

    with WorkerGroup(settings, pin=pin) as group:  # live: the feeds start once the group holds them
        sent_at = asyncio.run(_paced_send(broker.bootstrap, records, rate))
        send_end = time.monotonic()
        group.wait_drained(len(records))
        reports = group.stop()
    flags = read_topic(broker.bootstrap, topics.flags)

    decoder = msgspec.json.Decoder(FlagEvent)
    boundary = np.array([decoder.decode(r.value).boundary_ms for r in flags], np.int64)
    published = np.array([r.timestamp / 1000 for r in flags])
    topic_index = {t: i for i, t in enumerate(topics.feeds().values())}
    origin = np.array([topic_index[t] for t, _ in records]) * PARTITIONS + sent_partition(
        np.arange(len(records))
    )
    lateness = settings[0].correlation.lateness_ms
    first, every = origin_triggers(event_ms, origin, boundary + lateness)
    # Flags closed only by the drained declarations at the end have no trigger: left out.
    after_first = _latencies(published, sent_at, first)
    after_every = _latencies(published, sent_at, every)
    return {
        "rate": rate,
        "workers": workers,
        "messages": len(records),
        "achieved": len(records) / max(1e-9, sent_at[-1] - sent_at[0]),
        "flags": int((first < len(records)).sum()),
        "p50": float(np.percentile(after_first, 50)),
        "p99": float(np.percentile(after_first, 99)),
        "p50_every": float(np.percentile(after_every, 50)),
        "p99_every": float(np.percentile(after_every, 99)),
        "drain_s": _span(reports)[1] - send_end,
        "moved": moved_partitions(reports),
        "rss_mib": max(r.rss_mib for r in reports),
        "anon_mib": max(r.anon_mib for r in reports),
        "load": os.getloadavg()[0],
    }


def _latencies(published: np.ndarray, sent_at: np.ndarray, trigger: np.ndarray) -> np.ndarray:
    """Seconds from each flag's trigger to its publication (NaN alone: no flag had one)."""
    had = trigger < len(sent_at)
    lat = published[had] - sent_at[trigger[had]]
    return lat if len(lat) else np.full(1, np.nan)


# --- report ---------------------------------------------------------------------------------


MEMORY = ("rss_mib", "anon_mib")


def cores_needed(runs: list[dict], one: int, rate: float) -> str:
    """What issue 17's targets ask of the machine at one process's CPU per alert (worker and
    broker): more processes can only add CPU per alert, so these are lower bounds."""
    per_alert_us = sum(
        statistics.median(r[one]["cpu"][k][1] for r in runs) for k in ("process", "broker")
    )
    return (
        f"at {one} process's {per_alert_us:.1f} µs of worker + broker CPU per alert, "
        f"1.8x its rate ({1.8 * rate:,.0f}/s) needs {1.8 * rate * per_alert_us / 1e6:.2f} "
        f"cores and 50,000/s {50_000 * per_alert_us / 1e6:.2f}, on a machine of "
        f"{len(os.sched_getaffinity(0))} (the benchmark's own producers and drain checks not "
        "counted)"
    )


def report_throughput(runs: list[dict], counts: list[int], span_min: float, naive: bool) -> None:
    one = min(counts)
    med = {"ceiling": statistics.median(r["ceiling"] for r in runs)}
    if naive:
        med["naive"] = statistics.median(r["naive"] for r in runs)
    for n in counts:
        med[n] = statistics.median(r[n]["rate"] for r in runs)
    print(
        f"\n### Throughput: {runs[0]['messages']:,} messages over {span_min:g} min of event "
        f"time, median of {len(runs)} runs\n"
    )
    print(f"| contender | alerts/s | vs ceiling | vs {one} process(es) |\n|---|---|---|---|")
    print(f"| raw aiokafka + msgspec decode | {med['ceiling']:,.0f} | 1.000 | |")
    if naive:
        print(
            f"| naive Faust agent (decode + count per event) | {med['naive']:,.0f} | "
            f"{med['naive'] / med['ceiling']:.3f} | |"
        )
    for n in counts:
        print(
            f"| worker, {n} process{'es' if n > 1 else ''} | {med[n]:,.0f} "
            f"(runs {', '.join(format(r[n]['rate'], ',.0f') for r in runs)}) | "
            f"{med[n] / med['ceiling']:.3f} | {med[n] / med[one]:.2f}x |"
        )
    stages = sorted({s for r in runs for n in counts for s in r[n]["cpu"]} - {"process", "broker"})
    print(
        "\n#### µs per alert, median of the runs: busy (wall time of the stage's batches) / CPU\n"
    )
    print("| stage | " + " | ".join(f"{n} process(es)" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for stage in [*stages, "process", "broker"]:
        cells = []
        for n in counts:
            busy = statistics.median(r[n]["cpu"].get(stage, (0.0, 0.0))[0] for r in runs)
            cpu = statistics.median(r[n]["cpu"].get(stage, (0.0, 0.0))[1] for r in runs)
            cells.append(f"{busy:.1f} / {cpu:.1f}")
        label = {
            "process": "all (wall of the span / process CPU)",
            "broker": "the broker (Tansu): - / its CPU over the span",
        }.get(stage, stage)
        print(f"| {label} | " + " | ".join(cells) + " |")
    # How many cores the worker processes kept busy over the span: 2 processes on 2 cores can
    # be at most 2 / (this figure for 1 process) times faster than one.
    cores = [
        statistics.median(r[n]["cpu"]["process"][1] / r[n]["cpu"]["process"][0] for r in runs)
        for n in counts
    ]
    print(
        "| cores the workers kept busy (process CPU / wall) | "
        + " | ".join(f"{c:.2f}" for c in cores)
        + " |"
    )
    print()
    print(cores_needed(runs, one, med[one]))
    for n in counts:
        if n == one:
            continue
        same = [r["same"][n][0] for r in runs]
        print(
            f"outputs of {n} processes vs {one}: identical in {sum(same)} of {len(runs)} runs; "
            f"last run: {runs[-1]['same'][n][1]}"
        )
    for n in counts:
        rss, anon = (statistics.median(r[n][k] for r in runs) for k in MEMORY)
        moved = sum(r[n]["moved"] for r in runs)
        print(
            f"{n} process(es): peak RSS of a process {rss:,.0f} MiB (anonymous {anon:,.0f}); "
            f"partitions that moved between processes during a run: {moved} in all runs"
        )
    print(f"load average {statistics.median(r['load'] for r in runs):.1f}")


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
    parser.add_argument(
        "--workers",
        default="1,2",
        help="counts of worker processes in one consumer group, compared in each run "
        "(the smallest is the reference for ratios and outputs)",
    )
    parser.add_argument("--rates", default="1000,10000,50000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive agent")
    parser.add_argument(
        "--prior-rate",
        type=float,
        default=None,
        help="baseline prior, alerts per km² per hour (default: the settings' "
        "5.0, far below this dense city's rate, so most busy cells flag)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run worker process i on core i only: one process then cannot use a second "
        "core through its threads, so the ratios show scaling by processes",
    )
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.workers.split(",")})
    if counts[0] < 1 or counts[-1] > PARTITIONS:
        parser.error(f"--workers: counts between 1 and {PARTITIONS} (the topics' partitions)")

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        if not args.skip_throughput:
            sim = simulate(work / "sim", args.messages, timedelta(minutes=args.span_min))
            runs = []
            for i in range(args.runs):
                order = counts if i % 2 == 0 else counts[::-1]  # alternate who goes first
                r = throughput_run(
                    broker,
                    work,
                    sim.replay,
                    sim.registry,
                    args.prior_rate,
                    order,
                    not args.skip_naive,
                    args.pin,
                )
                runs.append(r)
                naive = f"  naive {r['naive']:,.0f}/s" if "naive" in r else ""
                print(
                    f"run {i + 1}: ceiling {r['ceiling']:,.0f}/s{naive}  "
                    + "  ".join(
                        f"{n}p {r[n]['rate']:,.0f}/s ({r[n]['flag_events']:,.0f} flag events, "
                        f"{r[n]['moved']} partitions moved)"
                        for n in order
                    )
                    + "".join(f"  {n}p vs 1p identical: {r['same'][n][0]}" for n in r["same"])
                    + f"  load {r['load']:.1f}",
                    flush=True,
                )
            report_throughput(runs, counts, args.span_min, not args.skip_naive)
        print(
            "\n### Live latency (event time at "
            f"{args.speed:g}x wall clock, {args.seconds:g} s per rate)\n"
        )
        print(
            "| target rate | processes | achieved | flags | p50 s | p99 s | p50 s, every partition "
            "| p99 s, every partition | drain after input s | peak RSS MiB | peak anonymous MiB "
            "| load |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
        )
        for i, rate in enumerate(float(r) for r in args.rates.split(",")):
            span = timedelta(seconds=args.seconds * args.speed)
            sim = simulate(work / f"live-{rate:.0f}", int(rate * args.seconds), span)
            for n in counts if i % 2 == 0 else counts[::-1]:
                r = latency_run(broker, work, sim, rate, n, args.prior_rate, args.pin)
                print(
                    f"| {rate:,.0f}/s | {n} | {r['achieved']:,.0f}/s | {r['flags']} | "
                    f"{r['p50']:.2f} | {r['p99']:.2f} | {r['p50_every']:.2f} | "
                    f"{r['p99_every']:.2f} | {r['drain_s']:.1f} | "
                    f"{r['rss_mib']:,.0f} | {r['anon_mib']:,.0f} | {r['load']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
