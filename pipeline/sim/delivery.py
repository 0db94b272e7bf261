"""When each message reaches Kafka: delivery delays, late deliveries and re-sends.

Every event becomes one message that arrives a little after its event time (network, CAD
processing, app upload), capped below four minutes so that anything five or more minutes behind
is unambiguously a ``late`` fault. Duplicates are extra copies of clean messages, half of them
re-sent within seconds (producer retry), half minutes later (a gateway replaying its buffer).
The table is sorted by arrival; that is the order the records are emitted in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from pipeline.sim.config import FaultRates
from pipeline.sim.faults import Fault, draw_faults

__all__ = ["DELAY_CAP_MS", "Messages", "schedule"]

_MINUTE_MS = 60_000
DELAY_CAP_MS = 4 * _MINUTE_MS
# Median delivery delay (ms) and log-spread per feed.
_DELAY = {
    "alarm_phone": (2_000.0, 0.8),
    "dispatch_110": (40_000.0, 0.6),
    "camera": (800.0, 0.7),
    "grid_report": (5_000.0, 1.0),
}


@dataclass(frozen=True, eq=False)
class Messages:
    """One row per message, sorted by arrival; ``row`` indexes the feed's event table."""

    source: np.ndarray  # int8 index into SOURCES
    row: np.ndarray  # int64
    arrival_ms: np.ndarray  # int64, also the Kafka record timestamp
    fault: np.ndarray  # int8 Fault
    u1: np.ndarray  # float64 uniforms choosing the fault's variant
    u2: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


def _one_feed(code: int, source: str, event_ms: np.ndarray, rates: FaultRates, rng) -> Messages:
    n = len(event_ms)
    median, spread = _DELAY[source]
    delay = np.minimum(rng.lognormal(np.log(median), spread, n), DELAY_CAP_MS - 1)
    fault = draw_faults(n, rates, rng)
    late = fault == Fault.LATE
    delay[late] = rng.uniform(5, 30, late.sum()) * _MINUTE_MS
    arrival = event_ms + delay.astype(np.int64)
    dup = np.flatnonzero(fault == Fault.DUPLICATE)
    fault[dup] = Fault.NONE  # the original is clean; its copy carries the fault
    soon = rng.random(len(dup)) < 0.5
    again = np.where(
        soon, rng.uniform(0.05, 5.0, len(dup)) * 1000, rng.uniform(2, 60, len(dup)) * _MINUTE_MS
    ).astype(np.int64)
    rows = np.concatenate([np.arange(n), dup])
    m = len(rows)
    return Messages(
        source=np.full(m, code, dtype=np.int8),
        row=rows.astype(np.int64),
        arrival_ms=np.concatenate([arrival, arrival[dup] + again]),
        fault=np.concatenate([fault, np.full(len(dup), Fault.DUPLICATE, dtype=np.int8)]),
        u1=rng.random(m),
        u2=rng.random(m),
    )


def schedule(
    event_ms: dict[str, np.ndarray], rates: FaultRates, rng: np.random.Generator
) -> Messages:
    """All messages of all feeds (``event_ms`` in SOURCES order), sorted by arrival."""
    parts = [
        _one_feed(code, source, ms, rates, rng)
        for code, (source, ms) in enumerate(event_ms.items())
    ]
    merged = Messages(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Messages)}
    )
    order = np.argsort(merged.arrival_ms, kind="stable")  # ties keep feed, then row order
    return Messages(**{f.name: getattr(merged, f.name)[order] for f in fields(Messages)})
