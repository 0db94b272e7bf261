"""The patrol loop: notices to the responsible units, their acknowledgements, the SLA timers.

A flag that opens issues a notice to its police station (and community and street) on
``hotspots.notices``; stations acknowledge on ``hotspots.acks``; without a receipt a reminder
falls due after ``notice_receipt_s`` and an escalation to the district and the city after
``notice_escalation_s``, on recorded time (the watermark), so a replay gives the same events.
"""

from .book import AckRefused, NoticeBook, PatrolParams
from .intake import RoutedAcks, decode_ack_records, route_acks
from .step import PartitionAcks, PatrolResult, patrol_partition
from .wire import (
    ACK_KEY,
    Ack,
    AckRecord,
    NoticeEvent,
    encode_ack,
    notice_id,
    notice_partition,
)

__all__ = [
    "ACK_KEY",
    "Ack",
    "AckRecord",
    "AckRefused",
    "NoticeBook",
    "NoticeEvent",
    "PartitionAcks",
    "PatrolParams",
    "PatrolResult",
    "RoutedAcks",
    "decode_ack_records",
    "encode_ack",
    "notice_id",
    "notice_partition",
    "patrol_partition",
    "route_acks",
]
