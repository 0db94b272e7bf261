"""The worker's metrics object: per-partition correlator series and retry counting."""

from __future__ import annotations

import time

import pytest

from pipeline.metrics import Metrics

NO_WATERMARK = -(2**63)


def value(metrics: Metrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_watermark_lag_is_the_wall_clock_minus_the_watermark_at_each_scrape():
    metrics = Metrics()
    watermark_ms = int(time.time() * 1000) - 90_000
    metrics.observe_correlator(3, watermark_ms, open_flags=2)
    first = value(metrics, "hotspot_watermark_lag_seconds", partition="3")
    assert first == pytest.approx(90, abs=5)
    time.sleep(0.2)
    assert value(metrics, "hotspot_watermark_lag_seconds", partition="3") >= first + 0.2
    assert value(metrics, "hotspot_open_flags", partition="3") == 2
    metrics.observe_correlator(3, watermark_ms + 60_000, open_flags=0)  # a later batch
    assert value(metrics, "hotspot_watermark_lag_seconds", partition="3") == pytest.approx(
        30, abs=5
    )
    assert value(metrics, "hotspot_open_flags", partition="3") == 0


def test_a_correlator_without_a_watermark_reports_open_flags_but_no_lag():
    metrics = Metrics()
    metrics.observe_correlator(0, NO_WATERMARK, open_flags=0)
    assert value(metrics, "hotspot_open_flags", partition="0") == 0
    assert value(metrics, "hotspot_watermark_lag_seconds", partition="0") is None


def test_released_partitions_stop_reporting_and_the_others_go_on():
    metrics = Metrics()
    now_ms = int(time.time() * 1000)
    for partition in range(3):
        metrics.observe_correlator(partition, now_ms, open_flags=partition)
    metrics.observe_correlator(3, NO_WATERMARK, open_flags=0)
    metrics.forget_partitions({1, 3, 7})  # 7 was never held
    assert value(metrics, "hotspot_open_flags", partition="1") is None
    assert value(metrics, "hotspot_watermark_lag_seconds", partition="1") is None
    assert value(metrics, "hotspot_open_flags", partition="3") is None
    assert value(metrics, "hotspot_open_flags", partition="2") == 2
    metrics.forget_partitions(None)  # the worker stops
    assert value(metrics, "hotspot_open_flags", partition="0") is None
    assert value(metrics, "hotspot_watermark_lag_seconds", partition="2") is None


def test_warehouse_retries_are_counted_by_operation_and_table():
    metrics = Metrics()
    insert_flags = metrics.warehouse_retry("insert", "flags")
    insert_flags(RuntimeError("down"))
    insert_flags(RuntimeError("down"))
    metrics.warehouse_retry("connection")(RuntimeError("refused"))
    total = "hotspot_warehouse_retries_total"
    assert value(metrics, total, operation="insert", table="flags") == 2
    assert value(metrics, total, operation="connection", table="") == 1
    assert value(metrics, total, operation="insert", table="alerts") is None
