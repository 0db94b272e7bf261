"""Worker processes in one consumer group, for the benchmarks (``end_to_end.py``).

:class:`WorkerGroup` starts N worker processes with the same app id (consumer group) and topics,
each with its own data directory (chDB allows one process per directory), waits until every one
holds its partitions, and then lets the caller send the input. ``wait_drained`` returns once the
group has committed every record of every topic it reads, which the benchmark decides (the
workers run until SIGTERM, to report; ``hotspot worker --until-drained`` decides the same for a
group from inside each worker, :mod:`jobs.worker`). ``stop`` sends each process SIGTERM (a
graceful stop) and returns what each measured: its stages' times, its CPU time between "ready"
and "drained", and its memory.

:func:`read_outputs` and :func:`compare_outputs` read what a group published (flags by id and
version, incidents by id, dead letters by reason) and compare two groups' outputs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass

import msgspec

from pipeline.kafka import GroupDrain
from pipeline.kafka import read_topic as kafka_read_topic
from pipeline.settings import Settings, TopicNames

__all__ = [
    "WorkerGroup",
    "ProcessReport",
    "moved_partitions",
    "PeakAnonymous",
    "Outputs",
    "read_outputs",
    "read_topic",
    "compare_outputs",
]


@dataclass(frozen=True)
class ProcessReport:
    """What one worker process measured."""

    #: Progress.timing: stage -> (first batch start, last batch end, messages), on the
    #: system-wide monotonic clock (CLOCK_MONOTONIC: comparable across processes on Linux)
    timing: dict[str, tuple[float, float, int]]
    busy_s: dict[str, float]  # stage -> seconds its batches took (hotspot_stage_seconds_sum)
    partitions: frozenset[tuple[str, int]]  # (topic, partition) it processed records of
    cpu_s: float  # user + system CPU of the process between "ready" and "drained"
    flag_events: float
    rss_mib: float  # peak RSS
    anon_mib: float  # peak anonymous RSS


class PeakAnonymous:
    """Highest anonymous RSS of this process while the block runs, sampled every 200 ms (MiB).

    RSS also counts file-backed pages: about 350 MiB of them are chDB's mapped library code,
    shared and evictable. Anonymous memory is what the worker's data costs. Every 20 ms, the
    sampling thread held 4.6 % of a worker's profile samples (py-spy, 2026-12-06): reading
    ``/proc/self/status`` takes the interpreter lock from the stages being measured."""

    def __enter__(self) -> PeakAnonymous:
        self.mib, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            with open("/proc/self/status") as status:
                kib = next(int(line.split()[1]) for line in status if line.startswith("RssAnon"))
            self.mib = max(self.mib, kib / 1024)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _group_worker(settings: Settings, core, opened, go, ready, drained, queue) -> None:
    """One worker process: opens its runtime, waits for ``go`` (so that the group's processes
    join it together), runs until SIGTERM, then reports. ``core``: the one CPU it and all its
    threads may run on, or None for any."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    from jobs.runtime import open_runtime
    from jobs.worker import run_worker

    cpu: dict[str, float] = {}

    def cpu_window() -> None:  # CPU between "holds its partitions" and "the group drained"
        ready.wait()
        cpu["start"] = _cpu_s()
        drained.wait()
        cpu["end"] = _cpu_s()

    clock = threading.Thread(target=cpu_window, daemon=True)
    clock.start()
    with PeakAnonymous() as anon, open_runtime(settings) as runtime:
        opened.set()
        go.wait()
        run_worker(runtime, ready=ready, loglevel="error")  # until SIGTERM
        clock.join(timeout=5)
        sample = runtime.metrics.registry.get_sample_value
        timing = dict(runtime.progress.timing)
        busy = {name: sample("hotspot_stage_seconds_sum", {"stage": name}) for name in timing}
        flag_events = sample("hotspot_flag_events_total")
    queue.put(
        ProcessReport(
            timing=timing,
            busy_s=busy,
            partitions=frozenset((topic, p) for _, topic, p in runtime.progress.marks),
            cpu_s=cpu.get("end", _cpu_s()) - cpu.get("start", 0.0),
            flag_events=flag_events,
            rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            anon_mib=anon.mib,
        )
    )


class WorkerGroup:
    """``len(settings)`` worker processes in one group; ``with`` starts them and returns once
    each holds its partitions (and the group has had ``settle_s`` to finish rebalancing).

    Each process first opens its runtime (broker topics, chDB, registry: seconds); only when
    all have, they start their consumers together, so that input already waiting in the topics
    is not taken by the first process to join and then moved to the next (a partition that
    moves takes its correlator's state along only once issue 17's checkpoints exist).
    :func:`moved_partitions` says whether one moved all the same.

    ``pin``: process i and all its threads run on core i only (modulo the machine's cores), so
    that one process cannot spread onto a second core through its threads (chDB's, and kernels
    that release the interpreter lock). Throughput then measures scaling by processes."""

    def __init__(
        self, settings: list[Settings], *, settle_s: float = 1.0, pin: bool = False
    ) -> None:
        if len({s.app_id for s in settings}) != 1 or len({s.data_dir for s in settings}) != len(
            settings
        ):
            raise ValueError("a group's workers share one app_id and each has its own data_dir")
        self.settings = settings
        self.settle_s = settle_s
        context = multiprocessing.get_context("spawn")
        self._drained = context.Event()
        self._queue = context.Queue()
        self._go = context.Event()
        self._opened = [context.Event() for _ in settings]
        self._ready = [context.Event() for _ in settings]
        cores = sorted(os.sched_getaffinity(0))
        self._processes = [
            context.Process(
                target=_group_worker,
                args=(
                    s,
                    cores[i % len(cores)] if pin else None,
                    opened,
                    self._go,
                    ready,
                    self._drained,
                    self._queue,
                ),
            )
            for i, (s, opened, ready) in enumerate(
                zip(settings, self._opened, self._ready, strict=True)
            )
        ]

    def __enter__(self) -> WorkerGroup:
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + 300
        self._wait_all(self._opened, deadline, "open its runtime")
        self._go.set()
        self._wait_all(self._ready, deadline, "join the group")
        time.sleep(self.settle_s)
        return self

    def _wait_all(self, events: list, deadline: float, what: str) -> None:
        for process, event in zip(self._processes, events, strict=True):
            while not event.wait(0.5):
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"worker process {process.pid} did not {what} (exit code "
                        f"{process.exitcode}); its log is above"
                    )

    def wait_drained(self, sent: int, timeout_s: float = 900) -> None:
        """Until the group has committed all ``sent`` feed records and drained the topics it
        reads (:class:`pipeline.kafka.GroupDrain`, as the worker's ``--until-drained``)."""
        first = self.settings[0]
        bootstrap, group = first.broker_url.removeprefix("kafka://"), first.app_id
        feeds = set(first.topics.feeds().values())
        drain = GroupDrain(bootstrap, group, first.topics.consumed())

        def fed(committed) -> bool:
            return sum(o for (topic, _), o in committed.items() if topic in feeds) >= sent

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            if asyncio.run(drain.check(also=fed)):
                return
            time.sleep(0.25)
        raise TimeoutError(f"the group {group} did not drain in {timeout_s:g} s")

    def _check_alive(self) -> None:
        dead = [p for p in self._processes if not p.is_alive()]
        if dead:
            raise RuntimeError(f"worker process {dead[0].pid} exited {dead[0].exitcode}")

    def stop(self) -> list[ProcessReport]:
        """Stop every worker gracefully; their reports, in no particular order."""
        self._drained.set()
        time.sleep(0.2)  # each process reads its CPU time before it is told to stop
        for process in self._processes:
            os.kill(process.pid, signal.SIGTERM)
        reports = [self._queue.get(timeout=300) for _ in self._processes]
        for process in self._processes:
            process.join(60)
        return reports

    def __exit__(self, *exc) -> None:
        for process in self._processes:  # after a failure: nothing is left running
            if process.is_alive():
                process.kill()
                process.join()


def moved_partitions(reports: list[ProcessReport]) -> int:
    """Partitions (of any topic) that more than one process processed records of: each moved
    between processes during the run."""
    seen = Counter(tp for report in reports for tp in report.partitions)
    return sum(count > 1 for count in seen.values())


# --- outputs --------------------------------------------------------------------------------


class _FlagKey(msgspec.Struct):
    flag_id: str
    version: int


class _IncidentKey(msgspec.Struct):
    incident_id: str


class _Reason(msgspec.Struct):
    reason: str


@dataclass(frozen=True)
class Outputs:
    """What a group published: each flag version and incident with the bytes published (a
    set: a key published twice with different bytes is a defect to see), dead letters by
    reason."""

    flags: dict[tuple[str, int], set[bytes]]
    incidents: dict[str, set[bytes]]
    deadletters: Counter


def read_outputs(bootstrap: str, topics: TopicNames) -> Outputs:
    flags: dict[tuple[str, int], set[bytes]] = {}
    for record in read_topic(bootstrap, topics.flags):
        key = msgspec.json.decode(record.value, type=_FlagKey)
        flags.setdefault((key.flag_id, key.version), set()).add(record.value)
    incidents: dict[str, set[bytes]] = {}
    for record in read_topic(bootstrap, topics.incidents):
        key = msgspec.json.decode(record.value, type=_IncidentKey)
        incidents.setdefault(key.incident_id, set()).add(record.value)
    reasons = Counter(
        msgspec.json.decode(r.value, type=_Reason).reason
        for r in read_topic(bootstrap, topics.deadletter)
    )
    return Outputs(flags, incidents, reasons)


def compare_outputs(a: Outputs, b: Outputs) -> tuple[bool, str]:
    """Whether ``a`` and ``b`` hold the same flag versions and incidents, byte for byte, and a
    line that says how far apart they are."""
    parts, identical = [], True
    for name, x, y in (
        ("flag versions", a.flags, b.flags),
        ("incidents", a.incidents, b.incidents),
    ):
        shared = x.keys() & y.keys()
        same = sum(x[k] == y[k] for k in shared)
        identical &= len(x) == len(y) == same
        parts.append(f"{name} {len(x):,} vs {len(y):,}: {len(shared):,} shared, {same:,} identical")
    late = f"late dead letters {a.deadletters['late']:,} vs {b.deadletters['late']:,}"
    apart = sorted(a.flags.keys() ^ b.flags.keys())[:5]
    if apart:
        parts.append(
            f"flag versions in one only, first: {', '.join(f'{i} v{v}' for i, v in apart)}"
        )
    return identical, "; ".join([*parts, late])


def read_topic(bootstrap: str, topic: str) -> list:
    """Every record of ``topic``, from the beginning to its end (:mod:`pipeline.kafka.reading`)."""
    return kafka_read_topic(bootstrap, topic, timeout_s=300)
