"""Correlation engine: event-time windows, incidents, hotspot scoring and flags.

A transport-agnostic library: the worker's correlate stage and the backfill job feed it
:class:`~pipeline.alerts.AlertBatch` es and publish what it returns.
"""

from .baseline import Baseline
from .engine import CorrelationOutput, Correlator
from .flags import FlagEvent, flag_schema
from .incidents import Incident, incident_schema
from .params import CorrelationParams

__all__ = [
    "Baseline",
    "CorrelationOutput",
    "CorrelationParams",
    "Correlator",
    "FlagEvent",
    "Incident",
    "flag_schema",
    "incident_schema",
]
