"""Hotspot flags: what the correlator reports when a place stays hot.

:mod:`.tracker` opens, updates and closes flags with hysteresis (:class:`FlagEvent` is what it
emits); :mod:`.suppression` keeps hot cells near an already taken one from opening flags of
their own; :mod:`.details` describes the events inside a flag's disk; :mod:`.evaluation`
measures flags against planted hotspots.
"""

from .tracker import FlagEvent, FlagTracker, flag_schema

__all__ = ["FlagEvent", "FlagTracker", "flag_schema"]
