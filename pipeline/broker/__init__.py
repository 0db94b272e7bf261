"""Kafka: the embedded Tansu broker and topic administration."""

from .embedded import EmbeddedBroker
from .topics import bootstrap_servers, ensure_topics

__all__ = ["EmbeddedBroker", "bootstrap_servers", "ensure_topics"]
