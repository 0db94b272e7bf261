"""What an ``alerts`` insert costs on chDB by block size, plain and with ``distinct_keys``.

Same alerts (those of ``benchmarks/warehouse_rollups.py``: 24 h, 400 grid codes, distinct ids),
full schema (the 0007 + 0008 rollup views fire on every block), one pinned core. Each variant
inserts all alerts in blocks of the given size into fresh tables (opened and migrated before
the clock starts); variants alternate within each run, and the median of ``--runs`` runs is
printed with CPU seconds (all threads of the process) and the ratio to the plain insert of the
same block size. ``distinct`` is ``Warehouse.insert(..., distinct_keys=True)``, i.e.
``optimize_on_insert=0``: the sink passes it when a batch repeats no alert id, the backfill
when a block does not.

    PYTHONPATH=. .venv/bin/python benchmarks/insert_blocks.py --blocks 2000 20000 200000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.warehouse_rollups import alert_columns
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse


def insert_all(folder: Path, columns: dict, block: int, distinct: bool) -> tuple[float, float]:
    """Wall and CPU seconds to insert ``columns`` in blocks of ``block`` rows."""
    with EmbeddedWarehouse(folder) as wh:
        migrate(wh)
        n = len(columns["alert_id"])
        wall, cpu = time.perf_counter(), time.process_time()
        for lo in range(0, n, block):
            wh.insert(
                "alerts",
                {k: v[lo : lo + block] for k, v in columns.items()},
                distinct_keys=distinct,
            )
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--blocks", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, honestly
    columns = alert_columns(args.alerts, seed=0)
    load_before = os.getloadavg()[0]
    took: dict[tuple[int, bool], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-insert-") as tmp:
        for run in range(args.runs):
            for block in args.blocks:
                for distinct in (False, True) if run % 2 == 0 else (True, False):
                    folder = Path(tmp) / f"{run}-{block}-{distinct}"
                    took.setdefault((block, distinct), []).append(
                        insert_all(folder, columns, block, distinct)
                    )
    print(
        f"\n{args.alerts:,} alerts, median of {args.runs} runs, one core; load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"{'block':>8} {'insert':<9} {'wall s':>7} {'alerts/s':>10} {'cpu s':>7} "
        f"{'cpu vs plain':>13}"
    )
    for block in args.blocks:
        plain_cpu = statistics.median(c for _, c in took[(block, False)])
        for distinct in (False, True):
            wall = statistics.median(w for w, _ in took[(block, distinct)])
            cpu = statistics.median(c for _, c in took[(block, distinct)])
            print(
                f"{block:8,} {'distinct' if distinct else 'plain':<9} {wall:7.2f} "
                f"{args.alerts / wall:10,.0f} {cpu:7.2f} {cpu / plain_cpu:13.2f}"
            )


if __name__ == "__main__":
    main()
