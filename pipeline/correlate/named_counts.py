"""Rows of counts by code as ``{name: count}`` dicts of their non-zero entries, in code order:
the ``source_counts`` / ``category_counts`` of flag events and incidents.

A boundary emits hundreds of such dicts; building each by scanning its row in Python (35
categories) cost more than the rest of the event. Here one ``np.nonzero`` over all rows finds
the few non-zero entries, and each dict is built from its slice of them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["named_counts"]


def named_counts(counts: np.ndarray, names: tuple[str, ...]) -> list[dict[str, int]]:
    """Per row of ``counts`` (``(rows, len(names))`` integers), its non-zero counts by name,
    in column order.

    >>> named_counts(np.array([[0, 2, 1], [0, 0, 0]]), ("a", "b", "c"))
    [{'b': 2, 'c': 1}, {}]
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(names):
        raise ValueError(f"counts must be (rows, {len(names)}), got shape {counts.shape}")
    rows, cols = np.nonzero(counts)  # row-major: columns ascending within a row
    keys = np.array(names, dtype=object)[cols].tolist()
    values = counts[rows, cols].tolist()
    bounds = np.searchsorted(rows, np.arange(len(counts) + 1)).tolist()
    return [
        dict(zip(keys[a:b], values[a:b], strict=True))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
