"""Correlator processes: the number of processes changes no row, no flag event and no dead
letter; a child that dies or fails stops the backfill with a reason."""

from __future__ import annotations

import os
import signal
from functools import partial

import numpy as np
import pytest

from pipeline.alerts import AlertBatch
from pipeline.backfill.files import backfill_to_memory
from pipeline.backfill.partitions import PartitionPool
from pipeline.correlate import Correlator
from pipeline.correlate.baseline.store import prior_baseline
from pipeline.exceptions import BackfillError
from pipeline.geo.admin_units import load_registry
from pipeline.routing import TileRouting
from pipeline.settings import Settings
from tests.backfill.stored import DEAD_LETTER_COLUMNS, backfilled
from tests.conftest import PSEUDONYM_KEY


def _settings(city, data, processes: int) -> Settings:
    return Settings(
        data_dir=data,
        registry_path=city.registry,
        pseudonym_key=PSEUDONYM_KEY,
        partitions=3,
        backfill_processes=processes,
    )


@pytest.mark.parametrize("processes", [2, 3])
def test_the_process_count_changes_no_row(city, tmp_path, processes):
    # Many small chunks, so chunks overlap in the children; many inserts.
    stored = partial(
        backfilled,
        city,
        chunk_records=777,
        partitions=3,
        insert_rows=1000,
        dead_letter_columns=f"{DEAD_LETTER_COLUMNS}, topic, partition, offset",
    )
    one_report, one_broken, one = stored(tmp_path / "one")
    report, broken, rows = stored(tmp_path / "many", processes=processes)
    assert one_report.flag_events > 0 and one_report.incidents > 0 and one_report.late > 0
    assert rows == one
    assert broken == one_broken
    for what in ("alerts", "flag_events", "incidents", "late", "deadletters", "cell_tests"):
        assert getattr(report, what) == getattr(one_report, what), what


def test_flag_events_come_in_the_same_order_from_any_process_count(city, tmp_path):
    """The order of flag versions is observable on the topic a live run publishes to: the
    backfill publishes each chunk's results in partition order, whoever computed them."""
    registry = load_registry(city.registry)
    published = {}
    for processes in (1, 2):
        settings = _settings(city, tmp_path / str(processes), processes)
        sink, _ = backfill_to_memory(
            settings,
            registry,
            [city.replay],
            partial(prior_baseline, settings),
            chunk_records=500,
        )
        published[processes] = (
            sink.flags,
            sink.incidents,
            [(d.reason, d.alert_id, d.partition, d.offset) for d in sink.deadletters],
        )
    assert len(published[1][0]) > 0
    assert published[2] == published[1]


def _pool(city, tmp_path, processes: int) -> tuple[PartitionPool, AlertBatch]:
    settings = _settings(city, tmp_path, processes)
    registry = load_registry(city.registry)
    routing = TileRouting.from_settings(settings, registry)
    correlators = [
        Correlator(settings.correlation, routing.projection, prior_baseline(settings))
        for _ in range(settings.partitions)
    ]
    sink, _ = backfill_to_memory(
        settings.model_copy(update={"backfill_processes": 1}),
        registry,
        [city.replay],
        partial(prior_baseline, settings),
        correlate=False,
        keep_alerts=True,
    )
    return PartitionPool(correlators, routing, registry, processes), sink.stored_alerts()


def test_a_correlator_process_that_dies_stops_the_backfill_with_its_exit_code(city, tmp_path):
    pool, alerts = _pool(city, tmp_path, 2)
    try:
        child = pool._children[0].process
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=10)
        with pytest.raises(BackfillError, match=r"exited with code -9.*PROCESSES=1"):
            pool.submit([(0, alerts.take(np.arange(10)), np.zeros(10, bool))])
            pool.collect()
    finally:
        pool.close()
    assert not child.is_alive()


def test_a_bug_in_a_correlator_process_is_raised_with_its_traceback(city, tmp_path):
    pool, _ = _pool(city, tmp_path, 2)
    try:
        with pytest.raises(BackfillError, match=r"(?s)failed correlating.*Traceback.*ValueError"):
            pool.start_flush("not a time")  # advance_to takes it as int: a ValueError
            pool.collect()
    finally:
        pool.close()
    assert pool._children == []


def test_processes_0_means_one_per_cpu_the_backfill_may_run_on(city, tmp_path):
    """``backfill_processes`` 0: one process per CPU the backfill may run on, so a backfill
    pinned to one core does not pay for children that would share it."""
    from pipeline.backfill.engine import Backfill
    from pipeline.backfill.sinks import MemorySink

    settings = _settings(city, tmp_path, 0)
    registry = load_registry(city.registry)
    allowed = os.sched_getaffinity(0)
    counts = {}
    try:
        for cpus in ({min(allowed)}, allowed):
            os.sched_setaffinity(0, cpus)
            engine = Backfill(settings, registry, MemorySink(), partial(prior_baseline, settings))
            counts[len(cpus)] = engine.pool.processes
            engine.close()
    finally:
        os.sched_setaffinity(0, allowed)
    assert counts[1] == 1
    assert counts[len(allowed)] == min(len(allowed), settings.partitions)
