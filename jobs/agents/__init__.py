"""Faust agents: normalise the four feeds, and sink normalised alerts and dead letters."""

from .normalize import normalize_agent
from .sink import alerts_sink_agent, deadletter_sink_agent

__all__ = ["normalize_agent", "alerts_sink_agent", "deadletter_sink_agent"]
