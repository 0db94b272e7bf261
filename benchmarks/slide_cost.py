"""Fixed cost of closing a slide boundary: one correlator fed one alert per event-minute, so
every boundary is busy but its window holds only ~30 alerts (what is left is the per-slide
overhead, not the per-alert work). 600 alerts in batches of 10, the synthetic city of
``correlator_scaling.py``; median of 5 runs after a warm-up, learning and frozen baseline.

    PYTHONPATH=. .venv/bin/python benchmarks/slide_cost.py

Run it in two checkouts (e.g. main before and after a change) for a side-by-side figure.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from correlator_scaling import _LAT0, _LON0, _alerts

from pipeline.correlate import Baseline, Correlator
from pipeline.correlate.params import CorrelationParams
from pipeline.geo.projection import LocalProjection


def _ms_per_boundary(learn: bool) -> tuple[float, int]:
    params = CorrelationParams()
    correlator = Correlator(
        params,
        LocalProjection(_LAT0, _LON0),
        Baseline((params.cell_m / 1000) ** 2, 5.0, learn=learn),
    )
    rng = np.random.default_rng(7)
    rate, start = 1 / 60_000, 1_790_000_000_000  # one alert per event-minute
    boundaries, busy = 0, 0.0
    for fed in range(0, 600, 10):
        alerts = _alerts(rng, 10, start + int(fed / rate), rate, fed)
        before = correlator._window.next_boundary  # benchmark only: count closed boundaries
        t = time.perf_counter()
        correlator.process(alerts)
        busy += time.perf_counter() - t
        if before is not None:
            boundaries += (correlator._window.next_boundary - before) // params.slide_ms
    return busy / boundaries * 1e3, boundaries


def main() -> None:
    _ms_per_boundary(True)  # warm-up: Numba cache loads
    print("| baseline | boundaries | ms per boundary (median of 5) | runs |")
    print("|---|---|---|---|")
    for learn in (True, False):
        runs = [_ms_per_boundary(learn) for _ in range(5)]
        ms = [round(r[0], 2) for r in runs]
        name = "learning" if learn else "frozen"
        print(f"| {name} | {runs[0][1]} | {statistics.median(ms):.2f} | {ms} |")


if __name__ == "__main__":
    main()
