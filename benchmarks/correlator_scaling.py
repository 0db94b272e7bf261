"""Correlator scaling curve (issue 6): time per alert as the window grows from 1e4 to 1e6 alerts.

One :class:`pipeline.correlate.Correlator` (one partition's worth) is fed synthetic alerts at a
steady event-time rate chosen so that its 30-minute window holds ``W`` alerts: first ``W``
alerts to fill the window, then ``W * --slide-fraction`` more while it slides (one boundary per
event-minute). Time per alert is measured over the sliding part only (steady state). Alerts are
spread over a 24 x 18 km city, with 2% of them in three dense clusters (hotspots), four
sources, random categories and severities; fixed seed. Each ``W`` runs in its own process so
its peak RSS is its own; "RSS before" is the same process once every kernel is loaded (on a
throw-away correlator), before the measured one gets its first alert, so the difference is the
correlator's own footprint. The target is flat time per alert within a factor of 2 and a peak
below 1 GiB at ``W = 1e6``.

    PYTHONPATH=. .venv/bin/python benchmarks/correlator_scaling.py --windows 1e4,1e5,1e6
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time

import numpy as np

_LAT0, _LON0 = 30.25, 120.15  # city centre; the area is 24 x 18 km around it


def _alerts(rng: np.random.Generator, n: int, start_ms: int, rate_per_ms: float, first_id: int):
    from pipeline.alerts import CATEGORIES, SOURCES, AlertBatch

    clustered = rng.random(n) < 0.02
    centres = np.array([[0.03, 0.02], [-0.05, 0.04], [0.06, -0.06]])
    which = rng.integers(0, len(centres), n)
    dlat = np.where(
        clustered, centres[which, 0] + rng.normal(0, 0.002, n), rng.uniform(-0.081, 0.081, n)
    )
    dlon = np.where(
        clustered, centres[which, 1] + rng.normal(0, 0.002, n), rng.uniform(-0.125, 0.125, n)
    )
    event_ms = start_ms + (np.arange(n) / rate_per_ms).astype(np.int64)
    return AlertBatch(
        alert_id=np.array([f"camera:{i}" for i in range(first_id, first_id + n)], dtype=object),
        source=rng.integers(0, len(SOURCES), n).astype(np.int8),
        event_ms=event_ms,
        lat=_LAT0 + dlat,
        lon=_LON0 + dlon,
        category=rng.integers(0, len(CATEGORIES), n).astype(np.int16),
        severity=rng.uniform(0.2, 1.0, n).astype(np.float32),
        grid=np.zeros(n, dtype=np.int32),
    )


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def _warm_up(params, projection, baseline_for) -> None:
    """Load every kernel on a throw-away correlator, so the start RSS includes them."""
    from pipeline.correlate import Correlator

    rng = np.random.default_rng(1)
    rate = 2000 / (params.window_s * 1000)
    warm = Correlator(params, projection, baseline_for())
    for k in range(4):
        warm.process(_alerts(rng, 1000, 1_700_000_000_000 + int(k * 1000 / rate), rate, k * 1000))
    warm.advance_to(1_700_000_000_000 + 10 * params.window_s * 1000)


def _one(window_alerts: int, slide_fraction: float, batch: int, queue) -> None:
    from pipeline.correlate import Baseline, Correlator
    from pipeline.correlate.params import CorrelationParams
    from pipeline.geo.projection import LocalProjection

    params = CorrelationParams()
    projection = LocalProjection(_LAT0, _LON0)
    baseline_for = lambda: Baseline((params.cell_m / 1000) ** 2, 5.0)  # noqa: E731
    _warm_up(params, projection, baseline_for)
    start_rss = _rss_mib()
    correlator = Correlator(params, projection, baseline_for())
    rng = np.random.default_rng(7)
    rate = window_alerts / (params.window_s * 1000)  # alerts per event-time millisecond
    start = 1_790_000_000_000
    fill, slide = window_alerts, int(window_alerts * slide_fraction)
    fed, flags, timed, began = 0, 0, 0.0, time.perf_counter()
    while fed < fill + slide:
        n = min(batch, fill + slide - fed)
        alerts = _alerts(rng, n, start + int(fed / rate), rate, fed)
        t = time.perf_counter()
        out = correlator.process(alerts)
        if fed >= fill:
            timed += time.perf_counter() - t
        fed, flags = fed + n, flags + len(out.flags)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "window": window_alerts,
            "sliding": slide,
            "us_per_alert": timed / slide * 1e6,
            "total_s": time.perf_counter() - began,
            "retained": correlator.retained,
            "flags": flags,
            "rss_mib": peak,
            "start_rss_mib": start_rss,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", default="1e4,1e5,1e6")
    parser.add_argument(
        "--slide-fraction",
        type=float,
        default=0.25,
        help="alerts fed after the window is full, as a fraction of it",
    )
    parser.add_argument("--batch", type=int, default=5000, help="alerts per process() call")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    rows = []
    print(
        "| window alerts | retained | sliding alerts | µs per alert | vs smallest | flags | "
        "peak RSS MiB | RSS before MiB | load |\n|---|---|---|---|---|---|---|---|---|"
    )
    for w in (int(float(x)) for x in args.windows.split(",")):
        queue = context.Queue()
        process = context.Process(target=_one, args=(w, args.slide_fraction, args.batch, queue))
        process.start()
        rows.append(queue.get(timeout=1800))
        process.join()
        r = rows[-1]
        print(
            f"| {w:,} | {r['retained']:,} | {r['sliding']:,} | {r['us_per_alert']:.1f} | "
            f"{r['us_per_alert'] / rows[0]['us_per_alert']:.2f}x | {r['flags']} | "
            f"{r['rss_mib']:,.0f} | {r['start_rss_mib']:,.0f} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
