"""Repeats of one feed about one thing count once; other feeds never merge into a burst."""

from __future__ import annotations

import numpy as np

from pipeline.correlate.bursts import collapse_bursts
from pipeline.correlate.components import components


def test_components_roots_are_smallest_indices_whatever_the_edge_order():
    assert components(6, np.array([5, 2, 4]), np.array([4, 1, 2])).tolist() == [0, 1, 1, 3, 1, 1]
    assert components(3, np.array([], np.int64), np.array([], np.int64)).tolist() == [0, 1, 2]


def test_camera_repeats_collapse_other_feeds_stay():
    s = 1000
    rows = {
        # camera x4 at one spot (chained 90 s apart), same camera kind 3 min later, a 110 call
        # at the same spot, and a camera alert of another kind.
        "x": np.array([0.0, 5.0, 10.0, 15.0, 15.0, 0.0, 0.0]),
        "y": np.zeros(7),
        "event_ms": np.array([0, 90, 180, 270, 450, 100, 120]) * s,
        "source": np.array([2, 2, 2, 2, 2, 1, 2], dtype=np.int8),
        "category": np.array([7, 7, 7, 7, 7, 3, 9], dtype=np.int16),
        "severity": np.array([0.2, 0.6, 0.3, 0.2, 0.1, 0.5, 0.4], dtype=np.float32),
    }
    out = collapse_bursts(rows, 50.0, 120 * s)
    assert out["event_ms"].tolist() == [0, 450 * s, 100 * s, 120 * s]
    np.testing.assert_allclose(out["severity"], [0.6, 0.1, 0.5, 0.4])
