"""Emerging hot-spot trends of grid cells, as ArcGIS Pro's Emerging Hot Spot Analysis.

:mod:`.space_time` finds each time step's hot and cold cells (Getis-Ord Gi*, a false discovery
rate per step); :mod:`.mann_kendall` tests each cell's z-scores for a trend; :mod:`.patterns`
holds the classification rules and their thresholds; :mod:`.neighbours` the grid cells' Gi*
neighbours; :mod:`.daily` the job that reads the warehouse and writes ``cell_trends``
(`hotspot trends`).
"""

from .daily import CellTrends, classify_days, days_between, write_trends
from .patterns import PATTERNS, classify, pattern_name

__all__ = [
    "CellTrends",
    "PATTERNS",
    "classify",
    "classify_days",
    "days_between",
    "pattern_name",
    "write_trends",
]
