"""CPU per record of each correlation function on the dense hour (issue 19 item 2): the
backfill of ``backfill_cost.py``'s dense city in this process, pinned to one core with Numba
on one thread, with a ``time.thread_time`` timer around each function below (nested ones are
included in those that call them; a timer costs about a microsecond a call, and these are
called a few hundred times). Run it for two trees alternately to compare them (``PYTHONPATH``
of the other tree, and its own ``NUMBA_CACHE_DIR``); the first run of a tree compiles.

    PYTHONPATH=. .venv/bin/python benchmarks/correlate_functions.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

#: (module, object, attribute, label): what is timed
_TIMED = (
    ("pipeline.backfill.files", None, "backfill_files", "backfill_files, all"),
    ("pipeline.correlate.flags.tracker", "FlagTracker", "step", "flags: FlagTracker.step, all"),
    ("pipeline.correlate.flags.tracker", None, "_flag_events", "flags: _flag_events"),
    ("pipeline.correlate.flags.tracker", None, "named_counts", "flags: named_counts"),
    ("pipeline.correlate.flags.details", "RowIndex", "describe", "flags: RowIndex.describe"),
    ("pipeline.correlate.flags.tracker", "FlagTracker", "_new_hot_cells", "flags: opening"),
    ("pipeline.correlate.scan.scale_counts", "ScaleCounts", "retire", "scale counts: retire"),
    ("pipeline.correlate.scan.scale_counts", "ScaleCounts", "advance", "scale counts: advance"),
    ("pipeline.correlate.engine", None, "score_scale_counts", "scoring"),
    ("pipeline.correlate.engine", "Correlator", "_close_incidents", "incidents"),
    ("pipeline.correlate.window.buffer", "AlertBuffer", "append", "window: AlertBuffer.append"),
    ("pipeline.correlate.engine", "Correlator", "_window_events", "window: _window_events"),
    ("pipeline.correlate.engine", "Correlator", "_learn", "window: _learn"),
    ("pipeline.correlate.engine", "Correlator", "_evict", "window: _evict"),
    ("pipeline.correlate.engine", None, "utf8_ids", "window: utf8_ids"),
    ("pipeline.correlate.engine", None, "alert_keys", "window: alert_keys"),
)


def _timed(spent: Counter, label: str, function):
    def timed(*args, **kwargs):
        began = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - began

    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--city", type=Path, default=Path("var/bench/backfill-cost/dense-h1-s20"))
    args = parser.parse_args()
    if not (args.city / "replay.jsonl").exists():
        raise SystemExit(f"no city in {args.city}: run backfill_cost.py --only dense first")
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import importlib

    import numba

    numba.set_num_threads(1)
    from jobs.allocator import tune_allocator
    from jobs.garbage_collector import tune_garbage_collector
    from pipeline.geo.admin_units import load_registry
    from pipeline.settings import Settings
    from pipeline.warehouse import migrate, open_warehouse

    spent: Counter = Counter()
    for module, owner, name, label in _TIMED:  # loop per timed function
        target = importlib.import_module(module)
        target = target if owner is None else getattr(target, owner)
        if hasattr(target, name):  # an older tree may lack one
            setattr(target, name, _timed(spent, label, getattr(target, name)))
    backfill_files = importlib.import_module("pipeline.backfill.files").backfill_files
    tune_allocator(batch=True)
    registry = args.city / "registry.geojson"
    loaded = load_registry(registry)
    with tempfile.TemporaryDirectory(prefix="bench-functions-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            registry_path=registry,
            partitions=4,
            pseudonym_key="benchmark-key-0123456789",
            max_age_s=0,
        )
        with open_warehouse(settings.resolved_warehouse_url) as warehouse:
            migrate(warehouse)
            tune_garbage_collector()
            report, _ = backfill_files(settings, loaded, warehouse, [args.city / "replay.jsonl"])
    print(f"{report.records:,} records, load average {os.getloadavg()[0]:.2f}")
    for _, _, _, label in _TIMED:
        print(f"{label:<32} {spent[label]:7.3f} s {spent[label] / report.records * 1e6:7.2f} µs")


if __name__ == "__main__":
    main()
