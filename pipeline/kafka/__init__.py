"""Kafka, in one place: topic administration, the embedded Tansu broker, the worker's batch
producer and group consumer, Kafka's default partitioner for whole batches of keys, the paced
sender that replays recorded streams, reading partitions to their end, and whether a consumer
group has drained its topics.

What the worker does with what it consumes (its stages, the consume → handle → commit loop)
is the worker's, in ``jobs/``; here is only how the project talks to Kafka.
"""

from .admin import bootstrap_servers, committed_offsets, ensure_topics, partition_counts
from .consumer import group_consumer, stop_group_consumer
from .drain import GroupDrain
from .embedded import EmbeddedBroker, free_port
from .partitioner import key_partitions
from .producer import BatchProducer, Delivery
from .reading import ends, read_partitions, read_to_end, read_topic
from .sender import Pacing, send_chunks

__all__ = [
    "BatchProducer",
    "Delivery",
    "EmbeddedBroker",
    "GroupDrain",
    "Pacing",
    "bootstrap_servers",
    "committed_offsets",
    "ends",
    "ensure_topics",
    "partition_counts",
    "free_port",
    "group_consumer",
    "stop_group_consumer",
    "key_partitions",
    "read_partitions",
    "read_to_end",
    "read_topic",
    "send_chunks",
]
