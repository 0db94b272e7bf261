"""Recorded streams: reading replay files and sending them to Kafka."""

from .jsonl import ReplayRecord, read_jsonl
from .producer import send_records

__all__ = ["ReplayRecord", "read_jsonl", "send_records"]
