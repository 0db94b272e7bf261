"""Backfill: the live pipeline's normalise, correlate and sink code in one process."""

from .engine import CLOCKS, Backfill, BackfillReport

__all__ = ["Backfill", "BackfillReport", "CLOCKS"]
