"""Simulated police stations answering their notices, for ``hotspot demo``: realistic delays,
seeded.

How a station answers a notice is drawn from the notice id and the seed alone (a hash, not a
shared random stream), so the same notices get the same answers however they arrive:

- 75 % receive it within the 5 minutes (1 to 4.5 min), then arrive 6 to 20 min after the
  receipt, and call one in ten of those a false alarm on arrival;
- 15 % receive it late, after the reminder (6 to 25 min), then arrive as above;
- 5 % only after the escalation at 30 minutes (32 to 50 min), then arrive;
- 5 % never answer.

Times are event time after the notice's issue; the demo sends each ack when the replay's clock
reaches it, as a station would.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

__all__ = ["Answer", "station_answers"]

MINUTE = 60_000


class Answer(NamedTuple):
    """One ack a station sends: its action, its event time, the false alarm's reason."""

    action: str
    at_ms: int
    reason: str | None = None


def _uniform(notice_id: str, seed: int, what: str) -> float:
    """A number in [0, 1) drawn from the notice, the seed and what it is for."""
    digest = hashlib.blake2b(f"{seed}:{notice_id}:{what}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def station_answers(notice_id: str, issued_ms: int, seed: int) -> list[Answer]:
    """The acks a simulated station sends for a notice issued at ``issued_ms``, in time order.

    >>> [a.action for a in station_answers("ntc-0-00112233445566ff", 0, seed=7)]
    ['received', 'arrived']
    """
    u = _uniform(notice_id, seed, "kind")
    span = _uniform(notice_id, seed, "delay")
    if u < 0.75:
        receipt_min = 1 + 3.5 * span
    elif u < 0.90:
        receipt_min = 6 + 19 * span
    elif u < 0.95:
        receipt_min = 32 + 18 * span
    else:
        return []
    received = issued_ms + round(receipt_min * MINUTE)
    arrived = received + round((6 + 14 * _uniform(notice_id, seed, "arrive")) * MINUTE)
    answers = [Answer("received", received), Answer("arrived", arrived)]
    if _uniform(notice_id, seed, "false") < 0.1:
        answers.append(Answer("false_alarm", arrived + MINUTE, "no_incident"))
    return answers
