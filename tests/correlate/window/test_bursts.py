"""Repeats of one feed about one thing count once; other feeds never merge into a burst."""

from __future__ import annotations

import numpy as np

from pipeline.correlate.incidents.components import components
from pipeline.correlate.window.bursts import collapse_bursts, repeat_mask

S = 1000


def test_components_roots_are_smallest_indices_whatever_the_edge_order():
    assert components(6, np.array([5, 2, 4]), np.array([4, 1, 2])).tolist() == [0, 1, 1, 3, 1, 1]
    assert components(3, np.array([], np.int64), np.array([], np.int64)).tolist() == [0, 1, 2]


def _rows(x, t_s, source, category, severity=None) -> dict[str, np.ndarray]:
    n = len(x)
    return {
        "x": np.asarray(x, np.float64),
        "y": np.zeros(n),
        "event_ms": np.asarray(t_s, np.int64) * S,
        "source": np.asarray(source, np.int8),
        "category": np.asarray(category, np.int16),
        "severity": np.asarray(severity if severity is not None else [0.5] * n, np.float32),
    }


def test_camera_repeats_collapse_other_feeds_stay():
    # camera x4 at one spot 90 s apart, a 110 call and a camera alert of another kind there,
    # and the first camera kind again 3 min after its last alert.
    rows = _rows(
        x=[0.0, 0.0, 5.0, 0.0, 10.0, 15.0, 15.0],
        t_s=[0, 100, 90, 120, 180, 270, 450],
        source=[2, 1, 2, 2, 2, 2, 2],
        category=[7, 3, 7, 9, 7, 7, 7],
        severity=[0.2, 0.5, 0.6, 0.4, 0.3, 0.2, 0.1],
    )
    order = np.argsort(rows["event_ms"], kind="stable")
    rows = {k: v[order] for k, v in rows.items()}
    out = collapse_bursts(rows, 50.0, 120 * S)
    assert out["event_ms"].tolist() == [0, 100 * S, 120 * S, 450 * S]
    np.testing.assert_allclose(out["severity"], [0.2, 0.5, 0.4, 0.1])  # each keeps its own


def test_far_apart_or_other_kind_is_not_a_repeat():
    rows = _rows(
        x=[0.0, 60.0, 0.0, 0.0], t_s=[0, 10, 20, 200], source=[2, 2, 2, 2], category=[7, 7, 8, 7]
    )
    assert repeat_mask(rows, 50.0, 120 * S).tolist() == [False, False, False, False]


def test_busy_camera_is_not_one_endless_burst():
    """Regression: chained components merged a camera firing every 60 s into one burst for as
    long as it stayed busy, so a surge at one camera counted as one event and every window
    start cut the chain into an extra event the history never counted."""
    t = np.arange(0, 3600, 60)
    rows = _rows(x=np.zeros(len(t)), t_s=t, source=np.full(len(t), 2), category=np.full(len(t), 7))
    assert len(collapse_bursts(rows, 50.0, 30 * S)["x"]) == len(t)  # 60 s apart: distinct


def test_window_with_context_counts_what_the_history_counts():
    rng = np.random.default_rng(3)
    n = 3000
    t = np.sort(rng.integers(0, 7200, n))
    rows = _rows(
        x=rng.integers(0, 5, n) * 40.0,
        t_s=t,
        source=rng.integers(0, 4, n),
        category=rng.integers(0, 3, n),
    )
    gap = 120 * S
    whole = collapse_bursts(rows, 50.0, gap)
    for start in (1800 * S, 3000 * S):  # a window (start, start + 30 min]
        end = start + 1800 * S
        inside = (rows["event_ms"] > start - gap) & (rows["event_ms"] <= end)
        got = collapse_bursts({k: v[inside] for k, v in rows.items()}, 50.0, gap, since_ms=start)
        want = (whole["event_ms"] > start) & (whole["event_ms"] <= end)
        np.testing.assert_array_equal(got["event_ms"], whole["event_ms"][want])
        np.testing.assert_array_equal(got["x"], whole["x"][want])
