"""Backfill cost against the data, not the calendar (issue 19): a sparse and a dense city,
end to end from JSON Lines on one core, this tree side by side with a baseline commit, and
both against plain decoding of the same file (the ceiling).

* sparse — ``hotspot simulate --sparse``: 1,008 km², about 100 records a day, ``--days`` long
           (most slide boundaries have nothing to do: they must cost nothing);
* dense  — 1 h at scale 20 (about 126,000 records), the dense benchmark of ``backfill.py``
           (it must be no slower than before).

Each timed run is a fresh child process pinned to one CPU with Numba on one thread, which loads
the registry and opens and migrates a fresh chDB before its clock starts, then times
``backfill_files`` (read, normalise, correlate, write, flush) alone. The baseline commit is
extracted with ``git archive`` into ``--data``/trees and run from there (``PYTHONPATH``, its own
Numba cache), so nothing in another checkout is touched; one untimed warm-up run per tree and
city compiles and caches the kernels. Runs alternate between the trees; medians of ``--runs``
are printed with the ratios to the ceiling and to the baseline, each run's CPU time of the
process over ``backfill_files`` (every thread, chDB's too; the median's µs per record and
records per CPU-second: steadier than rates on a shared machine), and each tree's incidents and
flag events, which must be equal (the outputs are compared bit for bit by ``tools/golden.py``).

    PYTHONPATH=. .venv/bin/python benchmarks/backfill_cost.py --baseline d3d236f --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]


def make_cities(folder: Path, days: float) -> dict[str, Path]:
    """The sparse and the dense city's folders (simulated once, cached in ``folder``)."""
    from pipeline.sim import SPARSE, run_simulation

    cities = {"sparse": folder / f"sparse-d{days:g}", "dense": folder / "dense-h1-s20"}
    start = datetime(2026, 11, 2, 16, tzinfo=UTC)  # a Tuesday, local midnight
    if not (cities["sparse"] / "replay.jsonl").exists():
        duration = timedelta(days=days)
        run_simulation(
            cities["sparse"],
            seed=7,
            start=start - duration,  # months of history before the dense hour
            duration=duration,
            scale=SPARSE.scale(duration, start - duration),
            n_hotspots=3,
            city=SPARSE.city_for(7),
        )
    if not (cities["dense"] / "replay.jsonl").exists():
        run_simulation(
            cities["dense"], seed=7, start=start, duration=timedelta(hours=1), scale=20.0
        )
    return cities


def decode_jsonl(path: Path) -> tuple[float, int]:
    decode = msgspec.json.Decoder().decode
    began = time.perf_counter()
    with path.open("rb") as lines:
        n = sum(1 for _ in map(decode, lines))
    return time.perf_counter() - began, n


def child(city: Path, partitions: int) -> None:
    """One timed backfill in this process (the tree is whatever ``pipeline`` imports)."""
    import numba

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, honestly
    numba.set_num_threads(1)
    from jobs.allocator import tune_allocator
    from jobs.garbage_collector import tune_garbage_collector
    from pipeline.backfill.files import backfill_files
    from pipeline.geo.admin_units import load_registry
    from pipeline.settings import Settings
    from pipeline.warehouse import migrate, open_warehouse

    tune_allocator(batch=True)
    registry = city / "registry.geojson"
    loaded = load_registry(registry)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            registry_path=registry,
            partitions=partitions,
            pseudonym_key="benchmark-key-0123456789",
            max_age_s=0,  # history: judged by arrival time, never too old
        )
        with open_warehouse(settings.resolved_warehouse_url) as warehouse:
            migrate(warehouse)
            tune_garbage_collector()
            began, cpu = time.perf_counter(), time.process_time()
            report, _ = backfill_files(settings, loaded, warehouse, [city / "replay.jsonl"])
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
    print(
        json.dumps(
            {
                "seconds": took,
                "cpu_s": cpu,  # every thread of the process (chDB's too), one core
                "records": report.records,
                "incidents": report.incidents,
                "flag_events": report.flag_events,
            }
        )
    )


def extract(rev: str, trees: Path) -> tuple[str, Path]:
    """The baseline commit's files under ``trees`` (extracted once)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = trees / sha
    if not (tree / "pipeline").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", sha], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return sha, tree


def run_child(tree: Path, city: Path, partitions: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    if tree != ROOT:
        env["NUMBA_CACHE_DIR"] = str(tree / ".numba-cache")  # never in another checkout
    script = f"import sys; sys.path.insert(0, {str(tree)!r}); " + (
        "import importlib.util as u; "
        f"s = u.spec_from_file_location('bench', {str(Path(__file__).resolve())!r}); "
        "m = u.module_from_spec(s); s.loader.exec_module(m); "
        f"m.child(__import__('pathlib').Path({str(city)!r}), {partitions})"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"a benchmark run failed in {tree}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="main", help="commit to compare with")
    parser.add_argument("--days", type=float, default=30.0, help="the sparse city's span")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("var/bench/backfill-cost"))
    parser.add_argument("--only", choices=["sparse", "dense"], default=None)
    args = parser.parse_args()

    args.data.mkdir(parents=True, exist_ok=True)
    cities = make_cities(args.data.resolve(), args.days)
    if args.only:
        cities = {args.only: cities[args.only]}
    sha, base_tree = extract(args.baseline, args.data.resolve() / "trees")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    trees = {sha: base_tree, f"{head} (this tree)": ROOT}
    load_before, began = os.getloadavg()[0], datetime.now(UTC)
    rows = []
    for name, city in cities.items():
        jsonl = city / "replay.jsonl"
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        ceiling = statistics.median(decode_jsonl(jsonl)[0] for _ in range(args.runs))
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        for tree in trees.values():
            run_child(tree, city, args.partitions)  # warm-up: kernels compiled and cached
        results: dict[str, list[dict]] = {label: [] for label in trees}
        for _ in range(args.runs):  # alternate, so load changes hit both alike
            for label, tree in trees.items():
                results[label].append(run_child(tree, city, args.partitions))
        base_s = statistics.median(r["seconds"] for r in results[sha])
        n = results[sha][0]["records"]
        rows.append((name, "ceiling (plain decode)", ceiling, n, None, None))
        for label, runs in results.items():
            took = statistics.median(r["seconds"] for r in runs)
            # a base tree that predates either key prints nan
            cpu = [r.get("cpu_s", r.get("cpu_seconds", float("nan"))) for r in runs]
            mid = statistics.median(cpu)
            outputs = (
                f"{runs[0]['incidents']:,} inc, {runs[0]['flag_events']:,} flag ev; CPU s "
                + ", ".join(f"{c:.2f}" for c in cpu)
                + f" ({mid / n * 1e6:.1f} µs per record, {n / mid:,.0f} records per CPU-second)"
            )
            rows.append((name, label, took, n, ceiling / took, (base_s / took, outputs)))
    print(
        f"\n{began:%Y-%m-%d %H:%M} UTC, median of {args.runs} runs each, one core, "
        f"{args.partitions} partitions; sparse {args.days:g} days; load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"{'city':<7} {'run':<24} {'records':>8} {'s':>8} {'records/s':>11} "
        f"{'vs ceiling':>10} {'vs base':>8}  outputs"
    )
    for name, label, took, n, vs_ceiling, extra in rows:
        ratio = "" if vs_ceiling is None else f"{vs_ceiling:10.4f}"
        base, outputs = ("", "") if extra is None else (f"{extra[0]:7.2f}x", extra[1])
        print(
            f"{name:<7} {label:<24} {n:8,} {took:8.2f} {n / took:11,.0f} {ratio:>10} "
            f"{base:>8}  {outputs}"
        )


if __name__ == "__main__":
    main()
