"""Backfill: the live pipeline's normalise, correlate and sink code in one process."""

from .columns import alert_columns, as_enveloped
from .engine import CLOCKS, Backfill, BackfillReport

__all__ = ["Backfill", "BackfillReport", "CLOCKS", "alert_columns", "as_enveloped"]
