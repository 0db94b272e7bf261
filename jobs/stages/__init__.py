"""The worker's stages: normalise the four feeds, correlate, and sink everything into the
warehouse. Each takes a whole poll of its topic (see :mod:`jobs.consumer`)."""

from .acks import ack_intake_stage
from .correlate import correlate_stage
from .normalize import normalize_stage
from .sink import alerts_sink, record_sink_stage

__all__ = [
    "ack_intake_stage",
    "correlate_stage",
    "normalize_stage",
    "alerts_sink",
    "record_sink_stage",
]
