"""Counts by name as the outputs carry them: ``{"camera": 3, "110": 1}``, non-zero counts
only, in code order (:data:`pipeline.alerts.SOURCES` and ``CATEGORIES`` order)."""

from __future__ import annotations

import numpy as np

__all__ = ["named_counts"]


def named_counts(counts: np.ndarray, names: np.ndarray) -> list[dict[str, int]]:
    """Per row of ``counts`` (2-d, non-negative), its non-zero counts by name (``names``: an
    object array of ``str``, one per column), in column order. One ``np.nonzero`` for all
    rows, then a ``dict(zip(...))`` per row: the loop per row builds only the output.

    >>> named_counts(np.array([[0, 2, 1], [0, 0, 0]]), np.array(["a", "b", "c"], object))
    [{'b': 2, 'c': 1}, {}]
    """
    rows, cols = np.nonzero(counts)  # row-major: each row's columns in order
    keys, values = names[cols].tolist(), counts[rows, cols].tolist()
    out, start = [], 0
    for end in np.searchsorted(rows, np.arange(1, len(counts) + 1)).tolist():  # per row
        out.append(dict(zip(keys[start:end], values[start:end], strict=True)))
        start = end
    return out
