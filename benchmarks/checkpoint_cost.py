"""Checkpoint cost (issue 17): what a correlator's checkpoint writes and costs at the wall clock's
pace, the whole window each time (the baseline, as before) against settled rows written once
(:meth:`pipeline.correlate.Correlator.checkpoint`).

One correlator (one partition's worth) takes synthetic alerts (``correlator_scaling.py``'s city)
at a steady event-time rate chosen so that its 30-minute window holds ``W`` alerts, in batches
of ``--every-s`` of event time; after each batch past the first ``--warm-min`` minutes it is
checkpointed both ways, as the worker's checkpoint every ``checkpoint_every_s`` would be when
event time runs at the wall clock's pace (live): the state and its records
(:func:`pipeline.kafka.checkpoints.checkpoint_records`, what the broker is sent), the parts a
checkpoint wrote before skipped. It prints, per ``W``, the medians over the checkpoints of the
median run: bytes sent and CPU (snapshot, hashing and records, one thread) per checkpoint and
per alert taken, and the ratios. The broker's side (storing, compacting) is not measured.

    PYTHONPATH=. .venv/bin/python benchmarks/checkpoint_cost.py --windows 1e4,1e5 --runs 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from correlator_scaling import _LAT0, _LON0, _alerts

from pipeline.correlate import Baseline, Correlator
from pipeline.correlate.params import CorrelationParams
from pipeline.geo.projection import LocalProjection
from pipeline.kafka.checkpoints import Checkpoint, Written, checkpoint_records

T0 = 1_700_000_000_000


def _sent(checkpoint: Checkpoint, written: dict) -> int:
    keys, values = checkpoint_records(checkpoint, Written(parts=written))
    return sum(len(k) + len(v) for k, v in zip(keys, values, strict=True))


def _whole(correlator: Correlator, generation: int) -> tuple[int, float]:
    began = time.process_time()
    checkpoint = Checkpoint(0, 4, generation, correlator.snapshot(), generation, 0)
    sent = _sent(checkpoint, {})
    return sent, time.process_time() - began


def _settled(correlator: Correlator, generation: int, written: dict) -> tuple[int, float, dict]:
    began = time.process_time()
    state, parts = correlator.checkpoint()
    checkpoint = Checkpoint(0, 4, generation, state, generation, 0, parts)
    sent = _sent(checkpoint, written)
    written = checkpoint.part_entries(written)
    return sent, time.process_time() - began, written


def one_run(window_alerts: int, every_s: float, warm_min: float, checkpoints: int, seed: int):
    """Per checkpoint: (alerts taken since the last, rows held, whole bytes, whole CPU s,
    settled bytes, settled CPU s)."""
    params = CorrelationParams()
    rate = window_alerts / (params.window_s * 1000)  # alerts per ms of event time
    correlator = Correlator(
        params, LocalProjection(_LAT0, _LON0), Baseline((params.cell_m / 1000) ** 2, 5.0)
    )
    rng = np.random.default_rng(seed)
    per_batch = max(1, round(rate * every_s * 1000))
    warm = int(warm_min * 60 / every_s)
    rows, written, taken = [], {}, 0
    for k in range(warm + checkpoints):
        correlator.process(_alerts(rng, per_batch, T0 + int(taken / rate), rate, taken))
        taken += per_batch
        if k < warm:
            if k == warm - 1:  # the settled parts as a worker would have written them
                _, _, written = _settled(correlator, k, written)
            continue
        whole, whole_s = _whole(correlator, k)
        settled, settled_s, written = _settled(correlator, k, written)
        rows.append((per_batch, correlator.retained, whole, whole_s, settled, settled_s))
    return np.array(rows, dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", default="1e4,1e5", help="alerts in the 30-minute window")
    parser.add_argument("--every-s", type=float, default=10.0, help="checkpoint interval, s")
    parser.add_argument("--warm-min", type=float, default=40.0, help="minutes before measuring")
    parser.add_argument("--checkpoints", type=int, default=12, help="measured per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(
        f"checkpoint every {args.every_s:g} s of event time (live pace), "
        f"medians over {args.checkpoints} checkpoints, median of {args.runs} runs\n"
    )
    print(
        "| window alerts | rows held | whole: KB / ms per checkpoint | settled: KB / ms "
        "| whole: bytes / µs per alert | settled: bytes / µs per alert | bytes ratio | CPU ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for window in (int(float(w)) for w in args.windows.split(",")):
        runs = [
            one_run(window, args.every_s, args.warm_min, args.checkpoints, seed)
            for seed in range(args.runs)
        ]
        medians = np.median([np.median(r, axis=0) for r in runs], axis=0)
        taken, held, whole, whole_s, settled, settled_s = medians
        print(
            f"| {window:,} | {held:,.0f} | {whole / 1e3:,.0f} / {whole_s * 1e3:.1f} "
            f"| {settled / 1e3:,.0f} / {settled_s * 1e3:.1f} "
            f"| {whole / taken:,.0f} / {whole_s * 1e6 / taken:.1f} "
            f"| {settled / taken:,.0f} / {settled_s * 1e6 / taken:.1f} "
            f"| {whole / settled:.1f}x | {whole_s / settled_s:.1f}x |"
        )


if __name__ == "__main__":
    main()
