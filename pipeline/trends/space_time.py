"""Hot and cold grid cells of each time step: Getis-Ord Gi* per step, Benjamini-Hochberg per step.

Each time step is a slice of the space-time cube (the counts of every grid cell in that step).
Gi* runs on the slice with the project's one Gi* kernel (:func:`pipeline.correlate.scan.getis_ord
.gi_star`, checked against PySAL esda), neighbours given once as CSR lists. A z-score is a normal
deviate, so its two-sided p-value is ``2 (1 - Phi(|z|))``; the p-values of one step, one per
cell, are one family, corrected with Benjamini-Hochberg (``scipy.stats.false_discovery_control``)
as ArcGIS's Emerging Hot Spot Analysis corrects each bin's test with FDR. A cell is hot in a step
with ``z > 0`` and an adjusted p-value below ``alpha``, cold with ``z < 0``.

A step whose counts are all equal (a day with no alert anywhere) has no spatial pattern: Gi* is
undefined (NaN), no cell is hot or cold there, and the trend test reads its z-scores as 0.

Each step is tested on its own (ArcGIS can also pool neighbouring time steps into a bin's
neighbourhood; that is not done here: a step's result does not depend on the steps around it,
so a day's hot cells are the same whichever window they are part of).

>>> ring = 30                                    # cells on a ring, each with its two sides
>>> indptr = np.arange(0, 2 * ring + 1, 2)
>>> indices = np.array([[(i - 1) % ring, (i + 1) % ring] for i in range(ring)]).ravel()
>>> counts = np.ones((2, ring)); counts[0, 15] = 30; counts[0, [14, 16]] = 10
>>> steps = hot_and_cold(counts, indptr, indices, alpha=0.05)
>>> np.flatnonzero(steps.hot[0]).tolist(), bool(steps.hot[1].any())
([14, 15, 16], False)
>>> bool(np.isnan(steps.z[1]).all())  # all equal: no pattern, Gi* undefined
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr
from scipy.stats import false_discovery_control

from pipeline.correlate.scan.getis_ord import gi_star

__all__ = ["StepSpots", "hot_and_cold"]


@dataclass(frozen=True)
class StepSpots:
    """Per time step and cell (arrays shaped (steps, cells)): Gi* z (NaN where undefined), the
    BH-adjusted p-value (1 where undefined), and the hot and cold masks."""

    z: np.ndarray
    q: np.ndarray
    hot: np.ndarray
    cold: np.ndarray


def hot_and_cold(
    counts: np.ndarray, indptr: np.ndarray, indices: np.ndarray, *, alpha: float
) -> StepSpots:
    """Gi* of every cell in every step of ``counts`` (steps, cells) with the neighbours
    ``indices[indptr[i]:indptr[i+1]]`` of cell ``i`` (itself excluded), BH-corrected per step."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.dtype.kind not in "fiu":
        raise ValueError("counts must be a 2-d numeric array (time steps, cells)")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    z = np.full(counts.shape, np.nan)
    for k in range(counts.shape[0]):  # a loop per time step; the cells are one kernel call
        z[k] = gi_star(counts[k], indptr, indices)
    defined = ~np.isnan(z)
    p = np.where(defined, 2.0 * ndtr(-np.abs(np.nan_to_num(z))), 1.0)
    q = false_discovery_control(p, axis=1, method="bh") if p.size else p
    significant = defined & (q < alpha)
    return StepSpots(z=z, q=q, hot=significant & (z > 0), cold=significant & (z < 0))
