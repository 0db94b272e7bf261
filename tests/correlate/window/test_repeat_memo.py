"""Burst collapsing with statuses remembered across slides (as the engine keeps them in its
buffer) equals collapsing afresh."""

import numpy as np
import pytest

from pipeline.correlate.window.buffer import alert_keys
from pipeline.correlate.window.bursts import burst_statuses, collapse_bursts, repeat_mask

RADIUS, GAP, WINDOW, SLIDE = 50.0, 120_000, 600_000, 60_000


def _stream(seed, n=1500, span_ms=1_800_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_ms, n))
    keys = alert_keys(np.array([f"c:{seed}:{i}" for i in range(n)], dtype=object))
    order = np.lexsort((keys, t))
    rows = {
        "key": keys,
        "x": rng.uniform(0, 400, n),
        "y": rng.uniform(0, 400, n),
        "event_ms": t,
        "source": rng.integers(0, 2, n).astype(np.int8),
        "category": rng.integers(0, 2, n).astype(np.int16),
    }
    return {k: v[order] for k, v in rows.items()}


@pytest.mark.parametrize("seed", range(5))
def test_memo_over_slides_gives_the_same_rows(seed):
    rows = _stream(seed)
    decided = np.full(len(rows["key"]), -1, np.int8)  # per alert, kept across slides
    for b in range(SLIDE, 1_800_000, SLIDE * 3 if seed % 2 else SLIDE):  # odd seeds skip slides
        start = b - WINDOW
        inside = np.flatnonzero((rows["event_ms"] > start - GAP) & (rows["event_ms"] <= b))
        part = {k: v[inside] for k, v in rows.items()}
        fresh = collapse_bursts(part, RADIUS, GAP, since_ms=start)
        remembered = collapse_bursts(part, RADIUS, GAP, since_ms=start, known=decided[inside])
        assert np.array_equal(fresh["key"], remembered["key"])
        repeat = burst_statuses(part, RADIUS, GAP, since_ms=start, known=decided[inside])
        after = part["event_ms"] > start
        decided[inside[after]] = repeat[after]
    assert (decided >= 0).sum() > len(decided) // 2  # the statuses were really carried


def test_decided_rows_are_not_redecided():
    rows = _stream(9, n=50)
    known = np.ones(50, np.int8)  # all claimed repeats: nothing left to search
    assert repeat_mask(rows, RADIUS, GAP, known).all()
