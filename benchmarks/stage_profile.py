"""CPU µs per alert per stage of a worker process, from a py-spy profile (issue 17, item 5).

``end_to_end.py`` shares each process's CPU out among the stages by their busy time, which
overstates a stage that waits (for the broker, for chDB's lock) and cannot split a stage into
its steps. This reads instead what py-spy saw the process's threads doing: each sample (a
stack of one thread that was not idle) goes to the first step whose marker occurs in its
stack, and a step's share of the samples, times the process's CPU per alert that
``end_to_end.py`` printed, gives its µs per alert. Start-up (imports, opening the runtime,
Numba compiling) and idle threads (epoll and event waits) are left out. Native code shows
under its Python caller: a Numba kernel under the function that calls it, chDB under
``EmbeddedWarehouse``. Native threads (Arrow's pool, chDB's own) are not sampled: their CPU is
shared out among the steps that were, and a thread waiting for the interpreter lock counts as
busy, so the figures are a guide, not exact CPU.

Record a worker process of a run (py-spy is not a project dependency; attach it by process
id, since ``--subprocesses`` does not follow ``multiprocessing``'s spawned children):

    PYTHONPATH=. .venv/bin/python benchmarks/end_to_end.py --messages 200000 --runs 1 \\
        --workers 1 --skip-naive --pin --rates 1000 --seconds 1 &
    py-spy record --pid <the spawned worker's id> --rate 100 --nonblocking --format raw -o w.txt
    python benchmarks/stage_profile.py w.txt --cpu-us 59.2   # the run's "process CPU" per alert
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

__all__ = ["STEPS", "shares"]

#: (step, markers): a sample belongs to the first step with a marker in its stack, so the more
#: specific steps come first.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "start-up (imports, runtime, Numba compiling)",
        (
            "open_runtime",
            "build_app",
            "_find_and_load",
            "tune_garbage_collector",
            "_compile_for_args",
            "_fixup_main_from_path",
        ),
    ),
    ("idle", ("EpollSelector.select", "Condition.wait", "PeakAnonymous")),
    ("warehouse inserts (chDB, every table)", ("EmbeddedWarehouse", "chdb")),
    ("correlate: checkpoints", ("checkpoint", "Correlator.snapshot", "savez")),
    ("correlate: kernels and engine", ("correlate_partition", "patrol_partition")),
    ("consume alerts.normalized: decode envelopes", ("decode_envelopes",)),
    ("correlate stage: other", ("correlate_stage", "normalized_poll", "stages/correlators.py")),
    (
        "normalise: decode, validate, normalise",
        ("normalize (pipeline/normalize.py", "normalize_each"),
    ),
    ("normalise: envelope table", ("envelope_table",)),
    ("normalise: encode envelopes (Arrow IPC)", ("encode_envelopes",)),
    ("normalise: route and publish", ("publish_normalized", "publish_marks")),
    ("normalise: dead letters", ("publish_deadletters",)),
    ("normalise: dedupe", ("remember",)),
    ("normalise: other", ("normalize_feeds", "_arrival_ranks", "after_batch")),
    ("sinks: decode records, build rows", ("sink_records", "stages/sink.py")),
    ("Kafka fetch (aiokafka consumer)", ("getmany", "fetcher.py")),
    ("Kafka produce (aiokafka producer)", ("producer", "sender.py", "message_accumulator")),
    ("Kafka other (connections, protocol)", ("aiokafka",)),
    ("consumer loop, lanes, alignment, commits", ("jobs/consumer.py", "alignment.py")),
    ("metrics, heartbeat", ("prometheus", "heartbeat", "metrics")),
    ("event loop, thread hand-offs, sockets", ("asyncio", "concurrent/futures", "threading.py")),
)
_LEFT_OUT = {STEPS[0][0], STEPS[1][0]}


def shares(paths: list[Path]) -> tuple[collections.Counter, int]:
    """Samples per step over py-spy raw files (``stack count`` per line), and how many samples
    were busy (neither start-up nor idle)."""
    counts: collections.Counter = collections.Counter()
    for path in paths:
        for line in path.read_text().splitlines():  # loop per distinct stack, not per event
            stack, _, n = line.rpartition(" ")
            step = next((s for s, marks in STEPS if any(m in stack for m in marks)), "other")
            counts[step] += int(n)
    busy = sum(n for step, n in counts.items() if step not in _LEFT_OUT)
    return counts, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", type=Path, help="py-spy --format raw files")
    parser.add_argument(
        "--cpu-us", type=float, required=True, help="the process's CPU µs per alert (end_to_end)"
    )
    args = parser.parse_args()
    counts, busy = shares(args.profiles)
    if not busy:
        parser.error("no busy samples in the profiles: was the worker sampled while it ran?")
    left_out = ", ".join(f"{s} {counts[s]:,}" for s in sorted(_LEFT_OUT))
    print(f"busy samples {busy:,} (left out: {left_out})\n")
    print("| step | share of busy samples | CPU µs per alert |\n|---|---|---|")
    for step, n in counts.most_common():
        if step not in _LEFT_OUT:
            print(f"| {step} | {100 * n / busy:.1f}% | {args.cpu_us * n / busy:.1f} |")


if __name__ == "__main__":
    main()
