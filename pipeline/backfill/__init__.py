"""Backfill: the live pipeline's normalise, correlate and sink code in one process."""

from .engine import CLOCKS, Backfill, BackfillReport
from .sinks import MemorySink, Sink, WarehouseSink

__all__ = ["Backfill", "BackfillReport", "CLOCKS", "MemorySink", "Sink", "WarehouseSink"]
