"""How soon after its third alert an oracle could flag each planted hotspot: a reference for
issue 23's delay target (median <= 5 min after the third alert at <= 0.5 false flags per
10 km² per quiet day).

The oracle knows what no detector can: each hotspot's exact disc, onset and baseline rate
(the simulator's ground truth, ``truth.json``). At every minute boundary after the onset it
makes one test: the counted events in the disc since the onset (severity > 0, repeats removed
by the engine's burst rule) against the baseline rate times the time elapsed, Poisson or, with
``--dispersion``, negative binomial (the engine's uncertainty about a fitted rate). For a rate
raised uniformly in a known disc from a known time, that count is the whole evidence, so no
test of the same data at the same level flags sooner (Neyman-Pearson); a scan disk over a
hotspot's dense core can still beat it, so it is a reference, not a bound hotspot by
hotspot. It flags at the first boundary whose p-value is at most the bar:

* **the target's bar**: ``0.5 x area / 10 km² / effective tests a day``, the p-value at which
  chance flags from the scan's tests (the city's figure, :mod:`pipeline.correlate.scan.test_rate`,
  whose claim the quiet days meet within a factor of 0.79-0.96) come to the false-flag
  target; a scan testing as many places and times must hold its tests to about this;
* **the engine's bar**: the p-value the city's opening thresholds claim
  (:func:`pipeline.evaluate.claimed_p`).

Printed per hotspot: when its third alert came (as ``hotspot evaluate`` counts it: any
alert with severity > 0 in disc and span), the oracle's delay after it at each bar, and its
p-value 5 minutes after it; then the medians, and what bar a median of 5 minutes would need.
Quality figures, not timings.

    PYTHONPATH=. .venv/bin/python benchmarks/oracle_delay.py --out /tmp/s14/city1

``--out`` is a folder of ``benchmarks/detection_quality.py --out`` (``history`` and
``day*`` with ``truth.json``).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import numpy as np

from pipeline.backfill.files import backfill_to_memory
from pipeline.backfill.fit import fit_replay
from pipeline.correlate.baseline.history import counted_events
from pipeline.correlate.baseline.store import prior_baseline
from pipeline.correlate.scan.scoring import count_upper_tail
from pipeline.correlate.scan.test_rate import city_params, city_tests_per_day
from pipeline.evaluate import claimed_p
from pipeline.geo.admin_units import load_registry
from pipeline.routing import city_projection
from pipeline.settings import Settings

__all__ = ["main", "oracle_delays"]

_MIN_MS = 60_000
#: issue 23's dense target: false flags per 10 km² per quiet day
TARGET_FALSE_FLAGS = 0.5
#: issue 23's dense target: median delay after a hotspot's third alert (s)
TARGET_DELAY_S = 300


def _alerts_and_events(settings: Settings, registry, projection, replay: Path):
    """The replay's alerts with severity > 0 (times and x/y in metres: what ``hotspot
    evaluate`` counts the third alert among), and its events, what scoring counts
    (:func:`~pipeline.correlate.baseline.history.counted_events`: bursts collapsed)."""
    sink, _ = backfill_to_memory(
        settings, registry, [replay], lambda: prior_baseline(settings), correlate=False,
        keep_alerts=True,
    )  # fmt: skip
    alerts = sink.stored_alerts()
    alerts = alerts.take(alerts.severity > 0)
    x, y = projection.to_xy(alerts.lat, alerts.lon)
    counted = {"event_ms": alerts.event_ms, "x": x, "y": y}
    return counted, counted_events(alerts, projection, settings.correlation)


def _inside(rows: dict[str, np.ndarray], xy, radius_m: float, start: float, end: float):
    """Sorted event times of ``rows`` in the disc and span."""
    t = rows["event_ms"]
    near = np.hypot(rows["x"] - xy[0], rows["y"] - xy[1]) <= radius_m
    return np.sort(t[near & (t >= start) & (t <= end)])


def oracle_delays(alerts, events, spot: dict, xy, bars: list[float], alpha: float = 0.0) -> dict:
    """One hotspot's third alert (ms after onset), the oracle's delay after it at each of
    ``bars`` (s; None: not within the span) and its p-value 5 minutes after it. ``alpha``:
    the test's dispersion (0: Poisson, the exact rate known; the engine's fitted alpha: the
    oracle's disc and onset with the engine's uncertainty about the rate)."""
    start = datetime.fromisoformat(spot["start"]).timestamp() * 1000
    end = datetime.fromisoformat(spot["end"]).timestamp() * 1000
    in_disc = _inside(alerts, xy, spot["radius_m"], start, end)
    if len(in_disc) < 3:
        return {"third_ms": None, "delays": [None] * len(bars), "p_at_target": None}
    third = in_disc[2]
    events = _inside(events, xy, spot["radius_m"], start, end)
    rate = sum(f["baseline_expected"] for f in spot["feeds"].values()) / (end - start)
    boundaries = np.arange((start // _MIN_MS + 1) * _MIN_MS, end + _MIN_MS, _MIN_MS)
    n = np.searchsorted(events, boundaries, side="right")  # events in (start, b]
    p = count_upper_tail(n, rate * (boundaries - start), alpha)
    delays = []
    for bar in bars:  # a few bars
        hit = np.flatnonzero(p <= bar)
        delays.append(None if not len(hit) else (boundaries[hit[0]] - third) / 1000)
    at = third + TARGET_DELAY_S * 1000
    k = min(int(np.searchsorted(boundaries, at, side="right")) - 1, len(boundaries) - 1)
    return {"third_ms": third - start, "delays": delays, "p_at_target": float(p[max(k, 0)])}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _median_min(values) -> str:
    found = [v for v in values if v is not None]
    return f"{np.median(found) / 60:.1f} min" if found else "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="a detection_quality.py --out folder")
    ap.add_argument(
        "--dispersion",
        default="0",
        help='the test\'s alpha: 0 (Poisson, the rate known), a number, or "fitted" (the history'
        " fit's, the engine's uncertainty about the rate)",
    )
    args = ap.parse_args()
    days = sorted(d for d in args.out.glob("day*") if (d / "truth.json").exists())
    registry = load_registry(days[0] / "registry.geojson")
    settings = Settings(data_dir=args.out)
    params = settings.correlation
    baseline = fit_replay(settings, registry, [args.out / "history" / "replay.jsonl"])[0].baseline()
    alpha = baseline.dispersion if args.dispersion == "fitted" else float(args.dispersion)
    tests = city_tests_per_day(baseline, params)
    width, height = json.loads((days[0] / "truth.json").read_text())["city"]["size_m"]
    area_10km2 = width * height / 1e7
    target_bar = TARGET_FALSE_FLAGS * area_10km2 / tests
    engine_bar = claimed_p(city_params(params, baseline))
    bars = [target_bar, engine_bar]
    print(
        f"{tests:,.0f} effective tests a day on {area_10km2 * 10:.0f} km²: target's bar"
        f" p <= {target_bar:.2e}, engine's bar p <= {engine_bar:.2e}; oracle's dispersion"
        f" alpha = {alpha:.3f}"
    )
    projection = city_projection(registry)
    found = []
    for day in days:  # a few days
        alerts, events = _alerts_and_events(settings, registry, projection, day / "replay.jsonl")
        for spot in json.loads((day / "truth.json").read_text())["hotspots"]:
            xy = projection.to_xy(np.array([spot["lat"]]), np.array([spot["lon"]]))
            r = oracle_delays(alerts, events, spot, (float(xy[0][0]), float(xy[1][0])), bars, alpha)
            found.append(r)
            third = None if r["third_ms"] is None else r["third_ms"] / 1000
            print(
                f"  {day.name} {spot['id']} x{spot['multiplier']} r={spot['radius_m']:.0f} m"
                f" third alert +{_seconds(third)} s; oracle delay after it (s): target's bar"
                f" {_seconds(r['delays'][0])}, engine's bar {_seconds(r['delays'][1])};"
                " p 5 min after it"
                f" {float('nan') if r['p_at_target'] is None else r['p_at_target']:.1e}"
            )
    at_target = [r["p_at_target"] for r in found if r["p_at_target"] is not None]
    needed = float(np.median(at_target)) if at_target else float("nan")
    print(
        f"oracle median delay after the third alert: {_median_min(r['delays'][0] for r in found)}"
        f" at the target's bar, {_median_min(r['delays'][1] for r in found)} at the engine's"
    )
    print(
        f"median p-value 5 min after the third alert: {needed:.1e}; at that bar the scan's"
        f" tests would give {needed * tests / area_10km2:.2f} chance flags"
        " per 10 km² per day"
    )


if __name__ == "__main__":
    main()
