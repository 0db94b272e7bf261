"""Bursts: repeated alerts of one feed about one thing, counted once for hotspot scoring.

A camera watching one loiterer fires every few seconds; counted alert by alert, one object
would look like a hotspot. Alerts of the same source and category within ``burst_radius_m``
and ``burst_gap_s`` of each other (single linkage) form a burst; scoring counts bursts, each
with its strongest severity. Different feeds never merge here: a 110 call next to a camera
alert is corroboration, which the score rewards.
"""

from __future__ import annotations

import numpy as np

from pipeline.alerts import CATEGORIES
from pipeline.geo.spatial_hash import pairs_within

from .components import components

__all__ = ["collapse_bursts"]


def collapse_bursts(
    rows: dict[str, np.ndarray], radius_m: float, gap_ms: int
) -> dict[str, np.ndarray]:
    """One row per burst, the burst's first (rows are in canonical order), carrying the burst's
    maximum severity. Returns the same columns as ``rows``."""
    n = len(rows["x"])
    pi, pj = pairs_within(rows["x"], rows["y"], radius_m, rows["event_ms"], gap_ms)
    kind = rows["source"].astype(np.int64) * len(CATEGORIES) + rows["category"]
    same = kind[pi] == kind[pj]
    roots = components(n, pi[same], pj[same])
    severity = rows["severity"].copy()
    np.maximum.at(severity, roots, rows["severity"])
    heads = roots == np.arange(n)
    out = {name: col[heads] for name, col in rows.items()}
    out["severity"] = severity[heads]
    return out
