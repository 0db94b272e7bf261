"""Kafka administration: the bootstrap address of a configured broker, topic creation
(idempotent) and a consumer group's committed offsets."""

from __future__ import annotations

from collections.abc import Collection

from ..exceptions import BrokerError, ConfigurationError
from .clients import Brokers, brokers

__all__ = [
    "COMPACTED_CONFIGS",
    "bootstrap_servers",
    "committed_offsets",
    "ensure_topics",
    "partition_counts",
]

#: Configs of a state topic. Kafka compacts only closed segments, and by default a segment
#: closes at 1 GiB or after 7 days, so a partition would keep every checkpoint written in that
#: time, and a restore reads the partition from its start. Segments that close every 10
#: minutes and a cleaner that runs once a tenth of the log is superseded keep it to about the
#: newest checkpoint and 10 minutes of writes; tombstones (parts no checkpoint names any more)
#: go after an hour.
COMPACTED_CONFIGS = {
    "cleanup.policy": "compact",
    "segment.ms": str(10 * 60_000),
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(60 * 60_000),
}


def bootstrap_servers(broker_url: str) -> str:
    """``kafka://h1:9092,h2:9092`` → ``h1:9092,h2:9092``."""
    if broker_url.startswith("kafka://"):
        return broker_url[len("kafka://") :]
    raise ConfigurationError(
        f"broker URL {broker_url!r} not understood; use 'embedded' or 'kafka://host:port'"
    )


def ensure_topics(
    bootstrap: Brokers | str,
    names: list[str],
    partitions: int,
    compacted: Collection[str] = (),
    *,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet; those in ``compacted`` keep each key's newest
    record only (state topics, :data:`COMPACTED_CONFIGS`)."""
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = brokers(bootstrap).admin(client_id="hotspot-admin")
    except KafkaError as exc:  # nobody answers at that address
        raise BrokerError(
            f"cannot reach Kafka at {bootstrap} ({exc}); check the address (HOTSPOT_BROKER_URL, "
            "or --bootstrap) and that the broker runs"
        ) from exc
    try:
        existing = set(admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            admin.create_topics(
                [
                    NewTopic(
                        n,
                        num_partitions=partitions,
                        replication_factor=replication_factor,
                        topic_configs=COMPACTED_CONFIGS if n in compacted else {},
                    )
                    for n in missing
                ]
            )
    except TopicAlreadyExistsError:
        pass  # another worker created it between our list and create
    except KafkaError as exc:
        raise BrokerError(f"cannot create topics on {bootstrap}: {exc}") from exc
    finally:
        admin.close()


def partition_counts(bootstrap: Brokers | str, names: list[str]) -> dict[str, int]:
    """How many partitions each of the topics ``names`` has (they must exist)."""
    from kafka.errors import KafkaError

    admin = brokers(bootstrap).admin(client_id="hotspot-admin")
    try:
        described = admin.describe_topics(list(names))
    except KafkaError as exc:
        raise BrokerError(f"cannot describe topics on {bootstrap}: {exc}") from exc
    finally:
        admin.close()
    return {d.get("name", d.get("topic")): len(d["partitions"]) for d in described}


def committed_offsets(bootstrap: Brokers | str, group: str) -> dict[tuple[str, int], int]:
    """Offsets the consumer group has committed (the next offset it would read)."""
    admin = brokers(bootstrap).admin(client_id="hotspot-admin")
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        return {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
    finally:
        admin.close()
