"""Faust agents: normalise the four feeds, correlate, and sink everything into the warehouse."""

from .correlate import correlate_agent
from .normalize import normalize_agent
from .sink import alerts_sink_agent, record_sink_agent

__all__ = ["correlate_agent", "normalize_agent", "alerts_sink_agent", "record_sink_agent"]
