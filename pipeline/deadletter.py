"""Dead letters: what could not become an alert, why, and the original bytes, sealed.

A dead letter keeps the original message so it can be repaired and replayed, but the original
may hold personal data (a caller's phone number in a half-written JSON object), and nothing in
clear may reach an output topic or the warehouse. So the bytes are sealed with Fernet
(AES-128-CBC + HMAC-SHA256) under a key derived from the pseudonymisation secret: operators who
hold the secret can open them with ``hotspot deadletter show``; nobody else can.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum

import msgspec
from cryptography.fernet import Fernet

__all__ = ["Reason", "DeadLetter", "Sealer"]


class Reason(StrEnum):
    """Machine-readable reason a message was dead-lettered."""

    MALFORMED_JSON = "malformed_json"
    MALFORMED_RECORD = "malformed_record"  # on alerts.normalized: not an Arrow IPC stream
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    OUT_OF_AREA = "out_of_area"
    FUTURE_TIME = "future_time"
    STALE_TIME = "stale_time"
    UNKNOWN_GRID_CODE = "unknown_grid_code"
    LATE = "late"
    INTERNAL_ERROR = "internal_error"  # the worker failed on it: a bug to report, not bad input
    # acks on hotspots.acks (pipeline/patrol): valid JSON the notice's state refuses
    UNKNOWN_NOTICE = "unknown_notice"
    UNIT_NOT_RESPONSIBLE = "unit_not_responsible"
    BEFORE_NOTICE = "before_notice"
    DUPLICATE_ACK = "duplicate_ack"


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    """One record on ``alerts.deadletter``."""

    reason: Reason
    detail: str  # the decoder's message: names fields, never echoes their values
    source: str  # feed name
    topic: str
    partition: int
    offset: int
    received_ms: int  # wall clock when the worker rejected it
    payload_sealed: str  # Fernet token of the original value bytes
    key_sealed: str | None = None
    alert_id: str | None = None  # set when the message decoded (e.g. late, out of area)


class Sealer:
    """Seals and opens original message bytes with a key derived from the pseudonym secret."""

    def __init__(self, secret: bytes) -> None:
        derived = hmac.digest(secret, b"hotspot dead-letter sealing v1", hashlib.sha256)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, data: bytes) -> str:
        return self._fernet.encrypt(data).decode("ascii")

    def open(self, token: str) -> bytes:
        return self._fernet.decrypt(token.encode("ascii"))
