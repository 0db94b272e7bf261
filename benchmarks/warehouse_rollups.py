"""What the idempotent rollups (migrations 0007, 0008) cost on insert and save on query, chDB.

Side by side in one process, same alerts, two databases of one chDB data directory:

- **insert**: alerts/s into ``alerts`` in batches of 2,000 (the sink's ``batch_max``), with the
  schema up to 0006 (baseline: no materialized views) and with 0007 + 0008 (two views that
  keep uniqExact states per cell-minute and per unit-hour);
- **query**: alerts per community and hour over the whole data, counted from ``alerts FINAL``
  at query time (the alternative design), from the view ``unit_hour_counts`` (which finalises
  per full key, then sums), and by merging ``unit_hour_states`` directly at the coarse key.

Alerts are uniform over a 12 x 12 km city and 24 hours, 8 sources x categories, 400 grid codes.
Each figure is the median of ``--runs`` runs (each on fresh tables); ratios are printed.

    python benchmarks/warehouse_rollups.py [--alerts 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.migrations import SCHEMA_DIR

BATCH = 2000
SOURCES = np.array(["camera", "dispatch_110", "alarm_phone", "grid_report"], dtype=object)
CATEGORIES = np.array(["fight", "intrusion"], dtype=object)


def alert_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 400, n)
    text = np.full(n, "", dtype=object)
    day0 = np.datetime64(int(time.time() // 86_400 * 86_400_000) - 86_400_000, "ms")
    return {
        "alert_id": np.array([f"a{i}" for i in range(n)], dtype=object),
        "source": SOURCES[rng.integers(0, 4, n)],
        "source_id": text,
        "category": CATEGORIES[rng.integers(0, 2, n)],
        "event_time": day0 + rng.integers(0, 86_400_000, n).astype("timedelta64[ms]"),
        "lat": 31.15 + rng.uniform(0, 0.108, n),
        "lon": 121.35 + rng.uniform(0, 0.126, n),
        "severity": rng.uniform(0, 1, n).astype(np.float32),
        "grid_code": np.array([f"G{g}" for g in grid], dtype=object),
        "community_code": np.array([f"C{g // 16}" for g in grid], dtype=object),
        "street_code": np.array([f"S{g // 64}" for g in grid], dtype=object),
        "district_code": np.array([f"D{g // 200}" for g in grid], dtype=object),
        "station_id": np.array([f"PS{g // 64}" for g in grid], dtype=object),
    }


def schema(root: Path, with_rollups: bool) -> Path:
    target = root / ("with" if with_rollups else "without")
    target.mkdir()
    for path in SCHEMA_DIR.glob("*.sql"):
        if with_rollups or path.name < "0007":
            shutil.copy(path, target / path.name)
    return target


def insert_all(wh: EmbeddedWarehouse, columns: dict[str, np.ndarray]) -> float:
    n = len(columns["alert_id"])
    start = time.perf_counter()
    for lo in range(0, n, BATCH):
        wh.insert("alerts", {k: v[lo : lo + BATCH] for k, v in columns.items()})
    return n / (time.perf_counter() - start)


def timed_query(wh: EmbeddedWarehouse, sql: str, reps: int = 3) -> tuple[float, list]:
    times, rows = [], []
    for _ in range(reps):
        start = time.perf_counter()
        rows = wh.query(sql)
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    columns = alert_columns(args.alerts, seed=0)
    rates: dict[str, list[float]] = {"without": [], "with": []}
    query_s: dict[str, list[float]] = {"rollup": [], "states": [], "final": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dirs = {"without": schema(root, False), "with": schema(root, True)}
        for run in range(args.runs):
            for variant in ("without", "with"):
                wh = EmbeddedWarehouse(root / "chdb", database=f"{variant}_{run}")
                migrate(wh, dirs[variant])
                rates[variant].append(insert_all(wh, columns))
                if variant == "with":
                    db = wh.database
                    t_rollup, by_rollup = timed_query(
                        wh,
                        f"SELECT community_code, hour, sum(alerts) AS n FROM "
                        f"{db}.unit_hour_counts GROUP BY community_code, hour ORDER BY ALL",
                    )
                    t_states, by_states = timed_query(
                        wh,
                        f"SELECT community_code, hour, uniqExactMerge(alerts) AS n FROM "
                        f"{db}.unit_hour_states GROUP BY community_code, hour ORDER BY ALL",
                    )
                    t_final, by_final = timed_query(
                        wh,
                        f"SELECT community_code, toStartOfHour(toDateTime(event_time, 'UTC')) "
                        f"AS hour, count() AS n FROM {db}.alerts FINAL "
                        "GROUP BY community_code, hour ORDER BY ALL",
                    )
                    if not (
                        [r[2] for r in by_rollup]
                        == [r[2] for r in by_states]
                        == [r[2] for r in by_final]
                    ):
                        raise SystemExit("rollup and alerts FINAL disagree: a bug, not a figure")
                    query_s["rollup"].append(t_rollup)
                    query_s["states"].append(t_states)
                    query_s["final"].append(t_final)
                wh.close()
    without, with_ = (statistics.median(rates[v]) for v in ("without", "with"))
    rollup, states, final = (statistics.median(query_s[v]) for v in ("rollup", "states", "final"))
    print(f"{args.alerts:,} alerts, batches of {BATCH}, median of {args.runs} runs")
    print(
        f"insert, schema to 0006 (no rollups): {without:12,.0f} alerts/s  runs "
        f"{[round(r) for r in rates['without']]}"
    )
    print(
        f"insert, with 0007 + 0008 rollups:    {with_:12,.0f} alerts/s  runs "
        f"{[round(r) for r in rates['with']]}  ratio {with_ / without:.2f}"
    )
    print(f"community x hour counts, alerts FINAL:           {final * 1000:8.1f} ms (baseline)")
    print(
        f"community x hour counts, unit_hour_counts view:  {rollup * 1000:8.1f} ms  "
        f"ratio {rollup / final:.2f}"
    )
    print(
        f"community x hour counts, states merged directly: {states * 1000:8.1f} ms  "
        f"ratio {states / final:.2f}"
    )


if __name__ == "__main__":
    main()
