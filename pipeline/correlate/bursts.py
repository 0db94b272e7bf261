"""Bursts: repeated alerts of one feed about one thing, counted once for hotspot scoring.

A camera watching one loiterer fires every few seconds; counted alert by alert, one object
would look like a hotspot. An alert is a *repeat* when an earlier alert (canonical order: event
time, then key) of the same source and category lies within ``burst_radius_m`` and
``burst_gap_s`` before it; scoring counts only the alerts that are not repeats, each with its
own severity. Different feeds never merge here: a 110 call next to a camera alert is
corroboration, which the score rewards.

Why a local rule and not connected components: whether an alert is a repeat depends only on
the ``burst_gap_s`` of event time before it, so a sliding window (given that much context) and
a whole history count exactly the same events. Chained components instead let a busy camera's
detections merge into one burst lasting hours, which every window start then cuts into a new
"event": busy cells looked several times hotter in the stream than in the history the baseline
was fitted on, and a real surge at one camera collapsed into a single event.
"""

from __future__ import annotations

import numpy as np

from pipeline.alerts import CATEGORIES
from pipeline.geo.spatial_hash import pairs_within

__all__ = ["collapse_bursts", "repeat_mask"]


def repeat_mask(rows: dict[str, np.ndarray], radius_m: float, gap_ms: int) -> np.ndarray:
    """Boolean mask of the rows (in canonical order) that repeat an earlier row."""
    n = len(rows["x"])
    if n == 0:
        return np.zeros(0, bool)
    # Pairs come as (i, j) with i < j: row j is the later one in canonical order.
    pi, pj = pairs_within(rows["x"], rows["y"], radius_m, rows["event_ms"], gap_ms)
    kind = rows["source"].astype(np.int64) * len(CATEGORIES) + rows["category"]
    repeat = np.zeros(n, bool)
    repeat[pj[kind[pi] == kind[pj]]] = True
    return repeat


def collapse_bursts(
    rows: dict[str, np.ndarray], radius_m: float, gap_ms: int, since_ms: int | None = None
) -> dict[str, np.ndarray]:
    """The rows (canonical order) that are not repeats, same columns as ``rows``.

    With ``since_ms``, rows at or before it are context only: they can make a later row a
    repeat but are not returned. Pass rows from ``gap_ms`` before the period of interest.
    """
    keep = ~repeat_mask(rows, radius_m, gap_ms)
    if since_ms is not None:
        keep &= rows["event_ms"] > since_ms
    return {name: col[keep] for name, col in rows.items()}
