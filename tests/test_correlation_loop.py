"""One partition's correlation step: late and failed rows are primaries only, in batch rows."""

from __future__ import annotations

import logging

import numpy as np

from pipeline.alerts import AlertBatch
from pipeline.correlate import CorrelationOutput
from pipeline.correlation_loop import correlate_partition, partition_rows
from pipeline.geo.projection import LocalProjection
from pipeline.routing import TileRouting

ROUTING = TileRouting(LocalProjection(31.2, 121.4), 4000.0, 800.0, 4)


def batch(ids: list[str], event_ms: list[int]) -> AlertBatch:
    n = len(ids)
    return AlertBatch(
        alert_id=np.array(ids, dtype=object),
        source=np.zeros(n, np.int8),
        event_ms=np.array(event_ms, np.int64),
        lat=np.full(n, 31.2),
        lon=np.full(n, 121.4),
        category=np.zeros(n, np.int16),
        severity=np.ones(n, np.float32),
        grid=np.zeros(n, np.int32),
    )


class _Publishing:
    """What a correlator is told to publish (``Correlator.publish_only``)."""

    owns = None

    def publish_only(self, owns) -> None:
        self.owns = owns


class Fixed(_Publishing):
    """A correlator that reports the alerts with the given ids late (or fails)."""

    def __init__(self, late_ids: set[str] | None) -> None:
        self.late_ids = late_ids

    def process(self, alerts: AlertBatch, origin=None) -> CorrelationOutput:
        if self.late_ids is None:
            raise RuntimeError("a bug")
        late = np.flatnonzero(np.isin(alerts.alert_id.astype(str), list(self.late_ids)))
        return CorrelationOutput(alerts.take(late), [], [], late_at=late)


def test_partition_rows_groups_rows_in_partition_order():
    got = partition_rows(np.array([2, 0, 2, 1, 0]))
    assert [p for p, _ in got] == [0, 1, 2]
    assert [r.tolist() for _, r in got] == [[1, 4], [3], [0, 2]]


class FirstLate(_Publishing):
    """A correlator that finds the first row of each batch late (a copy judged by its own
    origin's progress; a second copy of the same alert comes in on time)."""

    def process(self, alerts: AlertBatch, origin=None) -> CorrelationOutput:
        late = np.array([0]) if len(alerts) else np.empty(0, np.int64)
        return CorrelationOutput(alerts.take(late), [], [], late_at=late)


def test_of_two_copies_of_an_alert_only_the_late_one_is_a_late_row():
    """Issue 17, regression: late rows were found again by id and event time, so when both
    copies of a redelivered alert came in one batch, the on-time copy was dead-lettered too
    (twice with two workers, once with one, as the batches fell)."""
    alerts = batch(["x", "b", "x"], [5, 6, 5])  # the same alert twice, in one batch
    rows, halo = np.arange(3), np.zeros(3, bool)
    result = correlate_partition(FirstLate(), 0, alerts, rows, halo, ROUTING, None)
    assert result.late.tolist() == [0]


def test_late_and_failed_rows_index_the_whole_batch():
    alerts = batch(["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5])
    rows = np.array([1, 2, 4])  # this partition's rows: b, c (a halo copy) and e
    halo = np.array([False, True, False])
    result = correlate_partition(Fixed({"c", "e"}), 0, alerts, rows, halo, ROUTING, None)
    assert result.late.tolist() == [4]
    assert result.failed.tolist() == []
    assert result.incidents == [] and result.flags == []


def test_the_correlator_builds_the_flag_events_of_its_partitions_tiles_only():
    """The correlator is told which flag centres its partition publishes (the others' events
    would be dropped by owned_messages): the routing's tiles of that partition."""
    correlator = Fixed(set())
    alerts = batch(["a"], [1])
    correlate_partition(correlator, 2, alerts, np.arange(1), np.zeros(1, bool), ROUTING, None)
    lat = 31.2 + np.linspace(-0.3, 0.3, 41)
    lat, lon = np.meshgrid(lat, 121.4 + np.linspace(-0.3, 0.3, 41))
    lat, lon = lat.ravel(), lon.ravel()
    owned = correlator.owns(lat, lon)
    np.testing.assert_array_equal(owned, ROUTING.owns(2, lat, lon))
    assert 0 < owned.sum() < len(lat)  # some tiles are partition 2's, others are not


def test_a_failing_correlator_fails_its_primaries_and_is_logged(caplog):
    alerts = batch(["a", "b", "c"], [1, 2, 3])
    rows, halo = np.array([0, 2]), np.array([True, False])
    with caplog.at_level(logging.ERROR):
        result = correlate_partition(Fixed(None), 3, alerts, rows, halo, ROUTING, None)
    assert result.failed.tolist() == [2]
    assert result.late.tolist() == []
    assert "partition 3: correlating 2 alerts failed" in caplog.text
