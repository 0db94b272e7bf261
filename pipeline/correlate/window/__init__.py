"""The window of retained alerts: event time, the alerts themselves, and which of them count.

:mod:`.event_time` keeps the watermark and says which alerts are late or duplicates and which
slide boundaries are due; :mod:`.buffer` holds the retained alerts as NumPy columns in
canonical order, with :mod:`.key_set` for duplicate checks; :mod:`.bursts` defines repeats (an
alert of a feed that repeats an earlier one nearby, counted once), and :mod:`.events` decides
them incrementally and selects the window's counted events at a boundary.
"""

from .buffer import AlertBuffer
from .event_time import EventWindow

__all__ = ["AlertBuffer", "EventWindow"]
