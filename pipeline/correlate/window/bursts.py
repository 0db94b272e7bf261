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

__all__ = ["burst_statuses", "collapse_bursts", "repeat_mask"]


def repeat_mask(
    rows: dict[str, np.ndarray], radius_m: float, gap_ms: int, known: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the rows (in canonical order) that repeat an earlier row.

    ``known``: per row 1 (a repeat) or 0 (not) where that is already decided, -1 where it must
    be found; only pairs with an undecided row are then searched (among rows no more than
    ``gap_ms`` older than the oldest undecided one).
    """
    n = len(rows["x"])
    todo = np.ones(n, bool) if known is None else known < 0
    repeat = np.zeros(n, bool) if known is None else known == 1
    if not todo.any():
        return repeat
    t = rows["event_ms"]
    first = int(np.searchsorted(t, t[todo].min() - gap_ms))  # canonical order: t ascending
    tail = {k: rows[k][first:] for k in ("x", "y", "event_ms", "source", "category")}
    # Pairs come as (i, j) with i < j: row j is the later one in canonical order.
    pi, pj = pairs_within(
        tail["x"], tail["y"], radius_m, tail["event_ms"], gap_ms, active=todo[first:]
    )
    kind = tail["source"].astype(np.int64) * len(CATEGORIES) + tail["category"]
    later = pj[kind[pi] == kind[pj]] + first
    repeat[later[todo[later]]] = True
    return repeat


def burst_statuses(
    rows: dict[str, np.ndarray],
    radius_m: float,
    gap_ms: int,
    since_ms: int | None = None,
    known: np.ndarray | None = None,
) -> np.ndarray:
    """Per row (canonical order): whether it repeats an earlier row.

    With ``since_ms``, rows at or before it are context only: they can make a later row a
    repeat but are not decided themselves (reported as False). ``known``: statuses decided
    before, as in :func:`repeat_mask`. A row's status depends only on the ``gap_ms`` before
    it, so once every alert up to its event time is final (a closed slide boundary) it never
    changes: the engine keeps each alert's status and decides only new alerts.
    """
    after = np.ones(len(rows["x"]), bool) if since_ms is None else rows["event_ms"] > since_ms
    todo = np.full(len(after), -1, np.int8) if known is None else known.astype(np.int8)
    todo[~after] = 0  # context rows are never returned: they need not be decided
    return repeat_mask(rows, radius_m, gap_ms, todo) & after


def collapse_bursts(
    rows: dict[str, np.ndarray],
    radius_m: float,
    gap_ms: int,
    since_ms: int | None = None,
    known: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The rows (canonical order) that are not repeats, same columns as ``rows``.

    With ``since_ms``, rows at or before it are context only: they can make a later row a
    repeat but are not returned. Pass rows from ``gap_ms`` before the period of interest.
    ``known``: see :func:`burst_statuses`.
    """
    after = np.ones(len(rows["x"]), bool) if since_ms is None else rows["event_ms"] > since_ms
    keep = ~burst_statuses(rows, radius_m, gap_ms, since_ms, known) & after
    return {name: col[keep] for name, col in rows.items()}
