"""Hotspot scoring: the space-time scan of lattice cells at each slide boundary.

:mod:`.scoring` scores cells (observed against expected counts over every window and radius);
:mod:`.scale_counts` keeps the observed counts per cell and scale up to date from one boundary
to the next; :mod:`.expected_counts` computes the expected counts of every disk for a
factored baseline; :mod:`.scale_tests` tests all scales of all cells in one kernel call;
:mod:`.getis_ord` is the Getis-Ord Gi* statistic.
"""

from .scoring import CellScores

__all__ = ["CellScores"]
