"""Incidents: alerts from any feeds linked by closeness in space and time.

:mod:`.incident` defines an :class:`Incident` and builds them from linked alerts (the batch
reference); :mod:`.forest` links new alerts incrementally into a union-find forest kept in the
buffer, which is what the engine runs; :mod:`.components` is the union-find over a pair list.
"""

from .incident import Incident, incident_schema

__all__ = ["Incident", "incident_schema"]
