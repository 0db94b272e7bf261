"""The emerging hot-spot patterns of ArcGIS Pro's Emerging Hot Spot Analysis, for every cell.

Input per cell: which time steps it was a significant hot spot and cold spot in
(:mod:`.space_time`, Gi* with a per-step false discovery rate), and the Mann-Kendall trend of its
Gi* z-scores over the steps (:mod:`.mann_kendall`; ArcGIS's "intensity of clustering"). ArcGIS
Pro's definitions ("How Emerging Hot Spot Analysis works"), in short, with ``T`` the steps of
the window, the final step the classified day, and ``share`` = 90 % (``Settings.trends.share``):

==============  ==========================================================================
new             hot in the final step and never hot before it
consecutive     one uninterrupted run of at least two hot steps ending with the final step,
                never hot before that run, and hot in less than ``share`` of all steps
intensifying    hot in at least ``share`` of the steps, the final one included, and the
                intensity of clustering rising: a significant upward trend (Mann-Kendall,
                p < ``trend_alpha``, tau > 0)
persistent      hot in at least ``share`` of the steps (the final one included here) with no
                significant trend either way
diminishing     as intensifying, with a significant downward trend
sporadic        hot in the final step, on and off before, hot in less than ``share`` of the
                steps and never a significant cold spot
oscillating     hot in the final step, a significant cold spot in some earlier step, hot in
                less than ``share`` of the steps
historical      not hot in the final step, but hot in at least ``share`` of the steps
no pattern      none of the above
==============  ==========================================================================

Cold spots mirror every rule with hot and cold swapped; for them "intensifying" is a
significant *downward* trend of z (colder and colder) and "diminishing" an upward one. Cold
spots are computed and stored (an "oscillating hot spot" needs them, and a street whose calls
dried up is news for the analysis meeting too); the dashboard and the command list hot spots
first.

Where ArcGIS's text leaves the order open, the choices here, so that each cell gets exactly one
pattern:

* rules are tried in the table's order and the first that holds wins: a cell hot only in the
  final step is *new* even if it was once cold (not oscillating);
* persistent, like intensifying and diminishing, needs the final step hot; a cell hot in at
  least ``share`` of the steps but not the final one is *historical*;
* a cell hot in the final step gets a hot pattern even if it was cold in ``share`` of the
  steps before; the historical patterns come last, hot before cold (both cannot hold, since
  ``share`` > 0.5).

Codes: ``k`` for the hot pattern ``PATTERNS[k]``, ``-k`` for its cold mirror, 0 for no pattern.

>>> hot = np.zeros((10, 3), bool); cold = np.zeros((10, 3), bool)
>>> hot[-1, 0] = True                  # cell 0: hot only today
>>> hot[-3:, 1] = True                 # cell 1: the last three steps
>>> hot[:, 2] = True; hot[-1, 2] = False  # cell 2: hot every day but today
>>> codes = classify(hot, cold, np.zeros(3), np.ones(3))
>>> [pattern_name(c) for c in codes]
['new hot spot', 'consecutive hot spot', 'historical hot spot']
"""

from __future__ import annotations

import numpy as np

__all__ = ["PATTERNS", "classify", "pattern_name", "split_code"]

#: pattern names by code magnitude (0: no pattern)
PATTERNS: tuple[str, ...] = (
    "no pattern",
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
_HISTORICAL = PATTERNS.index("historical")


def _side(
    spot: np.ndarray, other: np.ndarray, rising: np.ndarray, falling: np.ndarray, share: float
) -> np.ndarray:
    """Pattern code (1..7, 0 for none) of each cell whose final step is a ``spot``, from the
    rules above read for one side; ``other`` is the opposite side's mask."""
    steps = spot.shape[0]
    n_spot = spot.sum(axis=0)
    run = np.cumprod(spot[::-1], axis=0).sum(axis=0)  # the uninterrupted run ending today
    many = n_spot >= share * steps
    final = spot[-1]
    rules = [
        final & (n_spot == 1),  # new
        final & (run >= 2) & (run == n_spot) & ~many,  # consecutive
        final & many & rising,  # intensifying
        final & many & ~rising & ~falling,  # persistent
        final & many & falling,  # diminishing
        final & ~many & ~other.any(axis=0),  # sporadic
        final & ~many & other.any(axis=0),  # oscillating
    ]
    return np.select(rules, np.arange(1, len(rules) + 1), 0).astype(np.int8)


def classify(
    hot: np.ndarray,
    cold: np.ndarray,
    tau: np.ndarray,
    trend_p: np.ndarray,
    *,
    share: float = 0.9,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """Pattern code (int8, see the module docstring) of each cell from its hot and cold masks
    (time steps, cells; oldest step first) and the Mann-Kendall tau and p-value of its z."""
    hot, cold = np.asarray(hot, bool), np.asarray(cold, bool)
    if hot.ndim != 2 or hot.shape != cold.shape or hot.shape[0] < 2:
        raise ValueError("hot and cold must be equal (time steps >= 2, cells) boolean masks")
    if (hot & cold).any():
        raise ValueError("a cell cannot be hot and cold in the same step")
    tau, trend_p = np.asarray(tau, np.float64), np.asarray(trend_p, np.float64)
    if tau.shape != (hot.shape[1],) or trend_p.shape != tau.shape:
        raise ValueError("tau and trend_p need one value per cell (column of hot)")
    up = (trend_p < trend_alpha) & (tau > 0)
    down = (trend_p < trend_alpha) & (tau < 0)
    hot_code = _side(hot, cold, up, down, share)
    cold_code = _side(cold, hot, down, up, share)  # colder and colder: z falling
    steps = hot.shape[0]
    return np.select(
        [
            hot[-1],
            cold[-1],
            hot.sum(axis=0) >= share * steps,
            cold.sum(axis=0) >= share * steps,
        ],
        [hot_code, -cold_code, _HISTORICAL, -_HISTORICAL],
        0,
    ).astype(np.int8)


def split_code(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pattern, spot)`` object arrays per code: ``('new', 'hot')``, ``('no pattern', '')``."""
    codes = np.asarray(codes)
    pattern = np.array(PATTERNS, dtype=object)[np.abs(codes)]
    spot = np.where(codes > 0, "hot", np.where(codes < 0, "cold", "")).astype(object)
    return pattern, spot


def pattern_name(code: int) -> str:
    """``'intensifying hot spot'``, ``'new cold spot'``, ``'no pattern'``."""
    pattern, spot = split_code(np.array([code]))
    return f"{pattern[0]} {spot[0]} spot" if spot[0] else str(pattern[0])
