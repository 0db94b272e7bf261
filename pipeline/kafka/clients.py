"""Every Kafka client of the project is made here, so none connects without the cluster's
security settings (SASL, TLS: ``Settings.kafka_client_options()``).

A :class:`Brokers` is where the clients connect and how they authenticate; the functions that
talk to Kafka take one (or a plain ``host:port`` string, for the embedded, plaintext Tansu of
tests and benchmarks). aiokafka and kafka-python take the same security keyword arguments, so
one mapping serves both. ``tests/kafka/test_clients.py`` fails when a module outside this one
constructs a client itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Brokers", "brokers"]


@dataclass(frozen=True)
class Brokers:
    """``bootstrap`` (``host:port[,host:port]``) and the security options of every client."""

    bootstrap: str
    security: Mapping[str, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, bootstrap: str) -> Brokers:
        """The brokers at ``bootstrap`` with the settings' SASL and TLS options."""
        return cls(bootstrap, settings.kafka_client_options())

    def __str__(self) -> str:  # messages name the address, never the credentials
        return self.bootstrap

    def _config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap, **config, **self.security}

    def consumer(self, *topics: str, **config: Any):
        """An unstarted ``aiokafka.AIOKafkaConsumer``."""
        from aiokafka import AIOKafkaConsumer

        return AIOKafkaConsumer(*topics, **self._config(config))

    def producer(self, **config: Any):
        """An unstarted ``aiokafka.AIOKafkaProducer``."""
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(**self._config(config))

    def admin(self, **config: Any):
        """A connected ``kafka.KafkaAdminClient`` (kafka-python; raises ``KafkaError`` when
        nobody answers)."""
        from kafka import KafkaAdminClient

        return KafkaAdminClient(**self._config(config))

    def sync_producer(self, **config: Any):
        """A connected ``kafka.KafkaProducer`` (kafka-python), for senders outside an event
        loop."""
        from kafka import KafkaProducer

        return KafkaProducer(**self._config(config))

    def sync_consumer(self, **config: Any):
        """A ``kafka.KafkaConsumer`` (kafka-python), for readers outside an event loop."""
        from kafka import KafkaConsumer

        return KafkaConsumer(**self._config(config))


def brokers(where: Brokers | str) -> Brokers:
    """``where`` as :class:`Brokers`: a plain address gets no security options."""
    return where if isinstance(where, Brokers) else Brokers(where)
