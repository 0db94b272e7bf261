"""A partition's step with its notices: alerts and marks are correlated up to each ack, the
timers due by the watermark there fire, then the ack is applied (or refused)."""

from __future__ import annotations

import numpy as np

from pipeline.alerts import AlertBatch
from pipeline.correlate import CorrelationOutput
from pipeline.marks import Marks
from pipeline.patrol import NoticeBook, PartitionAcks, PatrolParams, patrol_partition
from tests.patrol.test_book import MINUTE, NID, T0, ack, flag
from tests.test_correlation_loop import ROUTING, batch


class Recording:
    """A correlator that records what it was given, in order; its watermark is the last
    progress declared."""

    def __init__(self) -> None:
        self.calls: list = []
        self.watermark = -(2**63)

    def publish_only(self, owns) -> None:
        self.owns = owns  # which flags' events to build: this stand-in builds none

    def process(self, alerts: AlertBatch, origins=None) -> CorrelationOutput:
        self.calls.append(alerts.alert_id.tolist())
        return CorrelationOutput(AlertBatch.empty(), [], [])

    def declare(self, origin: np.ndarray, progress_ms: np.ndarray) -> CorrelationOutput:
        self.calls.append(progress_ms.tolist())
        self.watermark = int(progress_ms.max())
        return CorrelationOutput(AlertBatch.empty(), [], [])


def test_the_alerts_and_marks_before_an_ack_come_first_then_the_due_timers_then_the_ack():
    book = NoticeBook(1, PatrolParams())
    book.flags([flag()])  # issued at T0
    alerts = batch(["a", "b", "c"], [T0, T0, T0])
    rows, halo = np.arange(3), np.zeros(3, bool)
    marks = (np.array([2]), Marks(np.array([0]), np.array([T0 + 6 * MINUTE])))
    # the poll: a, b, mark, ack received (its time: 4 min), c, ack from another unit
    acks = PartitionAcks(
        np.array([2, 3]),
        np.array([1, 1]),
        [ack(at=T0 + 4 * MINUTE), ack("dispatched", unit="PS9")],
        [10, 12],
    )
    correlator = Recording()
    out = patrol_partition(
        correlator, book, 1, alerts, rows, halo, ROUTING, None, None, marks, acks
    )
    assert correlator.calls == [["a", "b"], [T0 + 6 * MINUTE], ["c"]]
    assert [(e.kind, e.at_ms, e.event_id) for e in out.events] == [
        ("reminder", T0 + 5 * MINUTE, f"{NID}/1"),  # the watermark passed it before the ack
        ("received", T0 + 4 * MINUTE, f"{NID}/2"),
    ]
    assert [(i, r.reason.value) for i, r in out.refused] == [(12, "unit_not_responsible")]
    assert out.result.late.tolist() == [] and out.result.failed.tolist() == []


def test_a_poll_of_acks_only_applies_them_at_the_watermark_held():
    book = NoticeBook(1, PatrolParams())
    book.flags([flag()])
    correlator = Recording()
    correlator.watermark = T0 + 2 * MINUTE
    acks = PartitionAcks(np.array([0]), np.array([0]), [ack()], [0])
    none = np.empty(0, np.int64)
    out = patrol_partition(
        correlator,
        book,
        1,
        AlertBatch.empty(),
        none,
        none.astype(bool),
        ROUTING,
        None,
        None,
        None,
        acks,
    )
    assert correlator.calls == []
    assert [e.kind for e in out.events] == ["received"] and out.refused == []
