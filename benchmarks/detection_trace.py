"""Trace of dense detection: what a late planted hotspot and a quiet-day false flag look like.

For each planted hotspot of the given days: at every boundary from its onset until its first
flag (at most 40 min), the tested cell within its radius (+250 m) with the smallest p-value:
count, expected count, p-value (weighted Bonferroni over scales, given ``min_count``), score,
its scale, distinct feeds and whether the test is new. For the flags of the quiet days (all
false): the opening figures, their sources and categories, how long they stayed open, the
largest count they reached, and the counted alerts that entered their disk in the 10 minutes
after opening; the same for the hotspots' first flags. Quality figures, not timings.

    PYTHONPATH=. .venv/bin/python benchmarks/detection_trace.py --out /tmp/dense-ops \
        --planted day0,day1,day2 --quiet quiet
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.detection_quality import parse_variant
from pipeline.backfill.files import backfill_to_memory
from pipeline.backfill.fit import fit_replay
from pipeline.correlate.flags import tracker as flag_tracker
from pipeline.geo.admin_units import load_registry
from pipeline.routing import city_projection
from pipeline.settings import Settings
from pipeline.sim import SHANGHAI

__all__ = ["main"]

_MIN_MS = 60_000


def _run(settings, registry, folder: Path, fitted, spots):
    """Backfill ``folder``; per hotspot, the best tested cell near it at each boundary."""
    best: dict[str, list] = {s[0]: [] for s in spots}
    bars: dict = {}
    step = flag_tracker.FlagTracker.step

    def traced(self, boundary_ms, scores, nearby):
        # the bars a cell must pass to open, as this city's correlator holds them
        bars.setdefault("bars", (self.params.open_p_max, self.params.open_score))
        if spots and len(scores.cell_id):
            cx, cy = self.lattice.centre(scores.ix, scores.iy)
            for sid, x, y, radius, lo, hi in spots:  # a loop per hotspot and boundary
                if lo <= boundary_ms <= min(hi, lo + 40 * _MIN_MS):
                    near = np.flatnonzero(np.hypot(cx - x, cy - y) <= radius + 250)
                    if len(near):
                        i = near[np.argmin(scores.p_value[near])]
                        best[sid].append((boundary_ms, i, scores))
        return step(self, boundary_ms, scores, nearby)

    flag_tracker.FlagTracker.step = traced
    try:
        sink, _ = backfill_to_memory(
            settings, registry, [folder / "replay.jsonl"], fitted.baseline, keep_alerts=True
        )
    finally:
        flag_tracker.FlagTracker.step = step
    for sid, seen in best.items():
        # Each partition's correlator steps through the whole day in turn: per boundary, the
        # best cell of any partition (a hotspot near a tile edge is tested by two).
        by_boundary: dict[int, tuple] = {}
        for b, i, scores in seen:
            if (
                b not in by_boundary
                or scores.p_value[i] < by_boundary[b][2].p_value[by_boundary[b][1]]
            ):
                by_boundary[b] = (b, i, scores)
        best[sid] = [by_boundary[b] for b in sorted(by_boundary)]
    if "bars" in bars:
        p_max, score_min = bars["bars"]
        print(f"bars to open: p <= {p_max:.1e}, score >= {score_min:.2f}, new test,"
              f" count/expected >= {settings.correlation.min_rate_ratio}")  # fmt: skip
    return sink, best, bars.get("bars")


def _stopped_by(s, i, bars, ratio: float) -> str:
    """The opening bars cell ``i`` of ``s`` misses (merging with an open flag not checked)."""
    p_max, score_min = bars
    missed = [
        name
        for name, ok in (
            ("p", s.p_value[i] <= p_max),
            ("score", s.score[i] >= score_min),
            ("new", s.new_test is None or s.new_test[i]),
            ("ratio", s.count[i] >= ratio * s.expected[i]),
        )
        if not ok
    ]
    return ",".join(missed) or "none (merged?)"


def _alerts_xy(sink, projection):
    a = sink.stored_alerts()
    c = a.severity > 0
    x, y = projection.to_xy(a.lat[c], a.lon[c])
    return x, y, a.event_ms[c]


def _local_hhmm(ms: int) -> str:
    """The simulated city's local clock (China Standard Time), where the hour profiles live."""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%H:%M")


def _describe_flag(versions, alerts, projection, label: str) -> str:
    first = versions[0]
    x, y = projection.to_xy(np.array([first.lat]), np.array([first.lon]))
    ax, ay, at = alerts
    disk = np.hypot(ax - x[0], ay - y[0]) <= first.radius_m
    after = int((disk & (at > first.boundary_ms) & (at <= first.boundary_ms + 10 * _MIN_MS)).sum())
    last = versions[-1]
    closed = last.status == "close"
    lasted = (last.boundary_ms - first.boundary_ms) / _MIN_MS
    return (
        f"{label} {_local_hhmm(first.boundary_ms)} n={first.observed} mu={first.expected:.2f}"
        f" p={first.p_value:.1e}"
        f" score={first.score:.2f} w={first.window_s} r={first.radius_m:.0f}"
        f" feeds={first.n_sources} {dict(first.source_counts)} {dict(first.category_counts)}"
        f" | open {lasted:.0f} min{'' if closed else '+'} max n={max(v.observed for v in versions)}"
        f" +{after} alerts in disk in 10 min after opening"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="detection_quality.py's --out")
    ap.add_argument("--planted", default="day0,day1,day2")
    ap.add_argument("--quiet", default="quiet", help="e.g. quiet980,quiet979 (city 3)")
    ap.add_argument("--variant", default="")
    args = ap.parse_args()
    root = args.out
    settings = Settings(data_dir=root, correlation=parse_variant(args.variant))
    folders = [d for d in f"{args.planted},{args.quiet}".split(",") if d]
    # every simulated folder holds the city's registry; ``quiet`` exists only with seed 999
    registry = load_registry(root / folders[0] / "registry.geojson")
    projection = city_projection(registry)
    fitted = fit_replay(settings, registry, [root / "history" / "replay.jsonl"])[0]
    print(f"dispersion {fitted.dispersion:.3f}")
    for name in [d for d in args.planted.split(",") if d]:
        truth = json.loads((root / name / "truth.json").read_text())["hotspots"]
        spots = []
        for h in truth:
            x, y = projection.to_xy(np.array([h["lat"]]), np.array([h["lon"]]))
            lo = datetime.fromisoformat(h["start"]).timestamp() * 1000
            hi = datetime.fromisoformat(h["end"]).timestamp() * 1000
            spots.append((h["id"], x[0], y[0], h["radius_m"], lo, hi))
        sink, best, bars = _run(settings, registry, root / name, fitted, spots)
        alerts = _alerts_xy(sink, projection)
        by_flag: dict[str, list] = {}
        for f in sink.flags:
            by_flag.setdefault(f.flag_id, []).append(f)
        ax, ay, at = alerts
        for sid, x, y, radius, lo, _hi in spots:
            inside = np.sort(at[(np.hypot(ax - x, ay - y) <= radius) & (at >= lo)])
            third = inside[2] if len(inside) >= 3 else lo
            print(f"== {name} {sid} r={radius:.0f} 3rd alert +{(third - lo) / _MIN_MS:.1f} min")
            near = [
                v for v in by_flag.values()
                if v[0].boundary_ms >= lo
                and np.hypot(*(np.array(projection.to_xy(np.array([v[0].lat]),
                                                         np.array([v[0].lon]))).ravel()
                               - [x, y])) <= radius + 500
            ]  # fmt: skip
            near.sort(key=lambda v: v[0].boundary_ms)
            flag_ms = near[0][0].boundary_ms if near else None
            for b, i, s in best[sid]:
                if flag_ms is not None and b > flag_ms:
                    break
                print(
                    f"   +{(b - lo) / _MIN_MS:5.1f} min n={s.count[i]} mu={s.expected[i]:.2f}"
                    f" ratio={s.count[i] / max(s.expected[i], 1e-9):.1f}"
                    f" p={s.p_value[i]:.1e} score={s.score[i]:.2f} w={s.window_s[i]}"
                    f" r={s.radius_m[i]:.0f} feeds={s.n_sources[i]} sev={s.mean_severity[i]:.2f}"
                    f" new={bool(s.new_test[i]) if s.new_test is not None else None}"
                    f" misses={_stopped_by(s, i, bars, settings.correlation.min_rate_ratio)}"
                )
            if near:
                print("   " + _describe_flag(near[0], alerts, projection, "FLAG"))
    for name in [d for d in args.quiet.split(",") if d]:
        sink, _, _ = _run(settings, registry, root / name, fitted, [])
        alerts = _alerts_xy(sink, projection)
        by_flag = {}
        for f in sink.flags:
            by_flag.setdefault(f.flag_id, []).append(f)
        print(f"== {name}: {len(by_flag)} false flags")
        for versions in sorted(by_flag.values(), key=lambda v: v[0].boundary_ms):
            print("   " + _describe_flag(versions, alerts, projection, "FALSE"))


if __name__ == "__main__":
    main()
