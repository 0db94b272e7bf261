"""Recorded streams: reading replay files (JSON Lines, Parquet) and sending them to Kafka."""

from .chunks import NO_TIMESTAMP, RecordChunk, read_jsonl_chunks
from .jsonl import BadLine, ReplayRecord, read_jsonl
from .parquet import jsonl_to_parquet, read_parquet_chunks
from .producer import send_records
from .sender import Pacing, send_chunks

__all__ = [
    "BadLine",
    "NO_TIMESTAMP",
    "Pacing",
    "RecordChunk",
    "ReplayRecord",
    "jsonl_to_parquet",
    "read_jsonl",
    "read_jsonl_chunks",
    "read_parquet_chunks",
    "send_chunks",
    "send_records",
]
