"""Backfill benchmark: records/s from a replay file into the embedded warehouse, on one core
(or ``--cores``), side by side with plain decoding of the same file (the ceiling).

Same simulated city, same files, same process, pinned to ``--cores`` CPUs (1 by default),
Numba on one thread:

* ceiling, JSON Lines — read the file and ``msgspec.json.decode`` every line (values included);
* ceiling, Parquet    — ``pyarrow.parquet.read_table`` of the same records;
* Parquet, typed      — the same Parquet with each value also decoded into typed columns
                        (``jsonl_to_parquet(..., typed=True)``), which the backfill reads
                        instead of decoding the JSON; its ceiling reads every column;
* ingest              — ``backfill --no-correlate``: read, normalise, dead-letter, write alerts
                        and dead letters to chDB;
* end to end          — ``backfill``: the above plus tile routing, one correlator per
                        partition, incidents and flags, and the final flush; once per count of
                        ``--processes`` correlating (``backfill_processes``: 1 correlates in the
                        backfill's process, N forks N children).

Each is run ``--runs`` times into a fresh chDB directory (opened and migrated before the
clock starts), the process counts alternating run by run; medians and ratios to the ceiling
of the same file format (and, end to end, to the first process count) are printed.

End to end, the work grows with the flag events the input raises: without a fitted baseline a
correlator compares each cell with the prior (5 alerts per km² per hour by default), and a
scale-20 city (about 280 per km² per hour over its 432 km²) flags most busy cells.
``--prior-rate 280`` runs it as if configured for that city; each run prints its flag events.

``--without-rollups`` (an experiment, not a configuration) also times every end-to-end count
with the two rollup views dropped after the migration (``cell_minute_states_mv``,
``unit_hour_states_mv``: migrations 0007 and 0008), alternating run by run with the full
schema, so that what the rollups cost the backfill can be read off.

    .venv/bin/python benchmarks/backfill.py --hours 24 --scale 1 --runs 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import numba
import pyarrow.parquet as pq

from jobs.allocator import tune_allocator
from jobs.garbage_collector import tune_garbage_collector
from pipeline.backfill.files import backfill_files
from pipeline.backfill.sinks import INSERT_ROWS
from pipeline.geo.admin_units import load_registry
from pipeline.replay.parquet import jsonl_to_parquet
from pipeline.settings import Settings
from pipeline.sim import run_simulation
from pipeline.warehouse import migrate, open_warehouse

#: The materialized views that fill the rollups on every ``alerts`` insert.
ROLLUP_VIEWS = ("cell_minute_states_mv", "unit_hour_states_mv")

#: An end-to-end variant: (processes that correlate, whether the rollup views are there).
Variant = tuple[int, bool]


def city(folder: Path, hours: float, scale: float) -> tuple[Path, Path, Path, Path]:
    """Registry, JSON Lines, Parquet and typed Parquet replay of a simulated city (cached in
    ``folder``)."""
    jsonl, parquet = folder / "replay.jsonl", folder / "replay.parquet"
    typed = folder / "replay.typed.parquet"
    if not parquet.exists():
        start = datetime(2026, 11, 2, 16, tzinfo=UTC)  # a Tuesday, local midnight
        run_simulation(
            folder,
            seed=7,
            start=start,
            duration=timedelta(hours=hours),
            scale=scale,
            n_hotspots=max(1, round(hours / 6)),
        )
        jsonl_to_parquet(jsonl, parquet, [])
    if not typed.exists():
        jsonl_to_parquet(jsonl, typed, [], typed=True)
    return folder / "registry.geojson", jsonl, parquet, typed


def decode_jsonl(path: Path) -> int:
    decode = msgspec.json.Decoder().decode
    with path.open("rb") as lines:
        return sum(1 for _ in map(decode, lines))


def read_parquet(path: Path) -> int:
    return pq.read_table(path).num_rows


def backfill(
    registry: Path,
    path: Path,
    partitions: int,
    correlate: bool,
    insert_rows: int = INSERT_ROWS,
    prior_rate: float | None = None,
    processes: int = 1,
    rollups: bool = True,
) -> tuple[float, int]:
    """Seconds of ``backfill_files`` (the registry is loaded and chDB opened and migrated
    before the clock starts: that is start-up, not throughput) and records read."""
    loaded = load_registry(registry)
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        # History: judged by arrival time, staleness off, so no record is rejected for its age.
        prior = {} if prior_rate is None else {"baseline_prior_rate_km2_h": prior_rate}
        settings = Settings(
            data_dir=Path(tmp),
            registry_path=registry,
            partitions=partitions,
            pseudonym_key="benchmark-key-0123456789",
            max_age_s=0,
            backfill_processes=processes,
            **prior,
        )
        with open_warehouse(settings.resolved_warehouse_url) as warehouse:
            migrate(warehouse)
            if not rollups:
                for view in ROLLUP_VIEWS:
                    warehouse.execute(f"DROP TABLE {warehouse.database}.{view}")
            cpu = _cpu_seconds()
            began = time.perf_counter()
            report, _ = backfill_files(
                settings, loaded, warehouse, [path], correlate=correlate, insert_rows=insert_rows
            )
            took = time.perf_counter() - began
            own, children = (b - a for a, b in zip(cpu, _cpu_seconds(), strict=True))
            if correlate:
                print(
                    f"  {path.name}: {report.flag_events:,} flag events, "
                    f"{report.incidents:,} incidents, {processes} process(es)"
                    f"{'' if rollups else ', no rollup views'}, {took:.2f} s; "
                    f"CPU s: this process {own:.2f}, correlator processes {children:.2f}",
                    flush=True,
                )
            return took, report.records


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended children: on a shared
    machine the CPU split says what two free cores would do better than the wall clock."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def timed(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        n = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), n


def timed_backfill(runs: int, work: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    results = [work() for _ in range(runs)]
    return statistics.median(t for t, _ in results), results[0][1]


def alternating(
    runs: int, variants: list[Variant], work: Callable[[Variant], tuple[float, int]]
) -> dict[Variant, tuple[float, int]]:
    """Median seconds and records per variant, the variants alternating run by run."""
    results: dict[Variant, list[tuple[float, int]]] = {v: [] for v in variants}
    for _ in range(runs):
        for variant in variants:
            results[variant].append(work(variant))
    return {v: (statistics.median(t for t, _ in r), r[0][1]) for v, r in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("var/bench/backfill"))
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1],
        help="processes that correlate, end to end (each count is timed; the first is the "
        "baseline of the ratios)",
    )
    parser.add_argument("--cores", type=int, default=1, help="CPUs the benchmark may use")
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=["jsonl", "parquet", "typed"],
        default=["jsonl", "parquet", "typed"],
    )
    parser.add_argument(
        "--insert-rows",
        type=int,
        default=INSERT_ROWS,
        help="rows held back per insert; 1 inserts after every chunk",
    )
    parser.add_argument(
        "--prior-rate",
        type=float,
        default=None,
        help="baseline prior, alerts per km² per hour (default: the settings' "
        "5.0; a scale-20 city has about 280)",
    )
    parser.add_argument(
        "--without-rollups",
        action="store_true",
        help="an experiment: also time each count with the rollup views dropped",
    )
    args = parser.parse_args()
    variants = [(count, True) for count in args.processes]
    if args.without_rollups:
        variants += [(count, False) for count in args.processes]

    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    os.sched_setaffinity(0, set(cores))  # one core (or --cores), honestly
    tune_allocator(batch=True)  # as `hotspot backfill` does
    numba.set_num_threads(1)
    folder = args.data / f"h{args.hours:g}-s{args.scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    registry, jsonl, parquet, typed = city(folder, args.hours, args.scale)
    load_registry(registry)  # warm: registry raster and Numba caches load once
    backfill(registry, jsonl, args.partitions, correlate=False)
    if not args.skip_end_to_end:  # the correlator's kernels compile (or load) here, once,
        # so that the children forked by every timed run inherit them
        backfill(registry, jsonl, args.partitions, True, args.insert_rows, args.prior_rate)
    tune_garbage_collector()  # as `hotspot backfill` does once started

    load_before = os.getloadavg()[0]
    rows = []
    files = {
        "jsonl": ("JSON Lines", jsonl, decode_jsonl),
        "parquet": ("Parquet", parquet, read_parquet),
        "typed": ("Parq typed", typed, read_parquet),
    }
    for name, path, ceiling in map(files.__getitem__, args.formats):
        top, n = timed(args.runs, lambda p=path, c=ceiling: c(p))
        rows.append((name, "ceiling (plain decode)", top, n, 1.0, None))
        took, n = timed_backfill(
            args.runs,
            lambda p=path: backfill(
                registry, p, args.partitions, False, args.insert_rows, args.prior_rate
            ),
        )
        rows.append((name, "ingest (--no-correlate)", took, n, top / took, None))
        if args.skip_end_to_end:
            continue
        timings = alternating(
            args.runs,
            variants,
            lambda variant, p=path: backfill(
                registry, p, args.partitions, True, args.insert_rows, args.prior_rate, *variant
            ),
        )
        first = timings[variants[0]][0]
        for (count, rollups), (took, n) in timings.items():
            label = f"end to end, {count} proc{'' if rollups else ', no rollups'}"
            rows.append((name, label, took, n, top / took, first / took))
    print(
        f"\n{n:,} records, {args.hours:g} h at scale {args.scale:g}, {args.partitions} "
        f"partitions, median of {args.runs} runs, {len(cores)} core(s) {cores}; load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"{'file':<11} {'path':<38} {'s':>8} {'records/s':>12} {'vs ceiling':>11} {'vs first':>9}"
    )
    for name, label, took, count, ratio, speedup in rows:
        vs = "" if speedup is None else f"{speedup:9.2f}"
        print(f"{name:<11} {label:<38} {took:8.2f} {count / took:12,.0f} {ratio:11.3f} {vs}")


if __name__ == "__main__":
    main()
