"""Pseudonymisation of personal fields with a keyed HMAC.

The same clear value always maps to the same pseudonym under one key (so an analyst can still
see that one household triggered five alarms), but the mapping cannot be reversed or recomputed
without the key. Values are normalised first (surrounding space; phone numbers to digits) so
that trivially different spellings of one number get one pseudonym.
"""

from __future__ import annotations

import hmac
import re
from functools import partial

import numpy as np

__all__ = ["Pseudonymizer"]

_NOT_DIGIT = re.compile(r"\D+")


class Pseudonymizer:
    """``pseudonymize(values)``: object array of str|None in, object array of hex|None out."""

    digest_chars = 32  # 128 bits of HMAC-SHA256: collisions are not a practical concern

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes; set a longer one")
        self._mac = partial(hmac.digest, secret, digest="sha256")

    def _one(self, namespace: bytes, value: str | None) -> str | None:
        # Strip first: a blank value is "no value", not one pseudonym shared by every blank.
        value = None if value is None else value.strip()
        if not value:
            return None
        return self._mac(namespace + value.encode()).hex()[: self.digest_chars]

    def pseudonymize(self, field: str, values: np.ndarray, *, phone: bool = False) -> np.ndarray:
        """Pseudonyms for one field; the field name salts the MAC, so ids of different kinds
        differ."""
        if phone:
            values = np.array(
                [None if v is None else _NOT_DIGIT.sub("", v) for v in values], dtype=object
            )
        namespace = field.encode() + b"\x00"
        return np.array(list(map(partial(self._one, namespace), values)), dtype=object)
