"""Recorded streams: reading replay files (JSON Lines, Parquet) and stored alerts as record
chunks. Sending them to Kafka is :func:`pipeline.kafka.send_chunks`."""

from .check import check_replay_file
from .chunks import NO_TIMESTAMP, BadLine, RecordChunk
from .jsonl import ReplayRecord, read_jsonl, read_jsonl_chunks
from .parquet import jsonl_to_parquet, read_parquet_chunks

__all__ = [
    "BadLine",
    "NO_TIMESTAMP",
    "RecordChunk",
    "check_replay_file",
    "ReplayRecord",
    "jsonl_to_parquet",
    "read_jsonl",
    "read_jsonl_chunks",
    "read_parquet_chunks",
]
