"""Neighbour join benchmark: all pairs within r metres and t_gap of event time.

Compares, on the same data in the same run, :func:`pipeline.geo.spatial_hash.pairs_within`
(Numba spatial hash, counting-sort layout, two-pass output) with ``scipy.spatial.cKDTree``
(``query_pairs`` as an ndarray, then the time filter) and a pure-Python dict-of-cells join
(up to 1e5 alerts; it is slow). The data are a city-like window: alerts uniform over
24 x 18 km and 30 minutes, r = 150 m, t_gap = 10 min. Each time is the median of several runs,
after a warm-up call so JIT compilation is not timed.

The area is fixed, so density grows with N and pairs grow as N²; the ``ns/pair`` column shows
the cost per unit of output, ``ns/alert`` the cost per input alert.

At 1e7 alerts such a window holds ~4.5e9 pairs (~72 GB as two int64 arrays, and cKDTree would
need twice that before the time filter), so that row times the counting pass alone
(:func:`count_pairs_within`) and skips the baselines.

    python benchmarks/neighbour_join.py [--sizes 1e4 1e5 1e6 1e7] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import defaultdict

import numpy as np
from scipy.spatial import cKDTree

from pipeline.geo.spatial_hash import count_pairs_within, pairs_within

WIDTH_M, HEIGHT_M, WINDOW_MS = 24_000.0, 18_000.0, 30 * 60_000
R_M, GAP_MS = 150.0, 10 * 60_000
REPS = {10_000: 7, 100_000: 5, 1_000_000: 3, 10_000_000: 1}
PYTHON_MAX_N = 100_000
MATERIALISE_MAX_N = 1_000_000


def city_window(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(0, WIDTH_M, n),
        rng.uniform(0, HEIGHT_M, n),
        rng.integers(0, WINDOW_MS, n, dtype=np.int64),
    )


def ckdtree_join(x, y, t):
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(R_M, output_type="ndarray")
    keep = np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= GAP_MS
    return pairs[keep, 0], pairs[keep, 1]


def python_join(x, y, t):
    """The straightforward version: a dict from cell to point list, scan the 3x3 cells."""
    cells = defaultdict(list)
    for i in range(len(x)):
        cells[(math.floor(x[i] / R_M), math.floor(y[i] / R_M))].append(i)
    out_i, out_j = [], []
    for (cx, cy), members in cells.items():
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in cells.get((cx + dx, cy + dy), ()):
                    for i in members:
                        if (
                            i < j
                            and abs(t[i] - t[j]) <= GAP_MS
                            and (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 <= R_M * R_M
                        ):
                            out_i.append(i)
                            out_j.append(j)
    return out_i, out_j


def median_time(fn, reps: int, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6, 1e7])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    warm = city_window(1000, args.seed)
    pairs_within(*warm[:2], R_M, warm[2], GAP_MS)
    count_pairs_within(*warm[:2], R_M, warm[2], GAP_MS)

    print(
        f"{'N':>10} {'pairs':>13} {'hash s':>9} {'ns/alert':>9} {'ns/pair':>8} "
        f"{'cKDTree s':>10} {'x faster':>9} {'python s':>9} {'x faster':>9}"
    )
    for n in (int(s) for s in args.sizes):
        x, y, t = city_window(n, args.seed)
        reps = REPS.get(n, 3)
        if n > MATERIALISE_MAX_N:
            ours, count = median_time(count_pairs_within, reps, x, y, R_M, t, GAP_MS)
            print(
                f"{n:>10} {count:>13} {ours:>9.3f} {ours / n * 1e9:>9.0f} "
                f"{ours / count * 1e9:>8.1f}   (count pass only; baselines skipped)"
            )
            continue
        ours, (pi, _) = median_time(pairs_within, reps, x, y, R_M, t, GAP_MS)
        kd, (ki, _) = median_time(ckdtree_join, reps, x, y, t)
        if len(ki) != len(pi):
            raise SystemExit(f"pair counts differ at N={n}: {len(pi)} vs cKDTree {len(ki)}")
        py_cols = "-", "-"
        if n <= PYTHON_MAX_N:
            py, (qi, _) = median_time(python_join, min(reps, 3), x, y, t)
            if len(qi) != len(pi):
                raise SystemExit(f"pair counts differ at N={n}: {len(pi)} vs python {len(qi)}")
            py_cols = f"{py:.3f}", f"{py / ours:.1f}"
        print(
            f"{n:>10} {len(pi):>13} {ours:>9.3f} {ours / n * 1e9:>9.0f} "
            f"{ours / max(len(pi), 1) * 1e9:>8.1f} {kd:>10.3f} "
            f"{kd / ours:>9.1f} {py_cols[0]:>9} {py_cols[1]:>9}",
            flush=True,
        )


if __name__ == "__main__":
    main()
