"""Retry with backoff: which failures are retried, how long it waits, when it gives up.

The outage itself (a real server killed and restarted under a consuming worker) is in
test_outage.py; here the warehouse calls are real chDB statements where the failure is a real
rejection, and a scripted callable where the test needs "unreachable N times, then fine".
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from pipeline.exceptions import WarehouseError, WarehouseUnavailable
from pipeline.settings import Settings
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.retry import RetryPolicy, call_with_retry, insert_with_retry

FAST = RetryPolicy(initial_s=0.001, max_s=0.004, multiplier=2.0)


def failing(times: int, exc: Exception):
    """A callable that raises ``exc`` ``times`` times, then returns how often it was called."""
    calls = []

    def action():
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return len(calls)

    return action


def test_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(initial_s=0.5, max_s=5.0, multiplier=2.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_unreachable_is_retried_until_it_answers_and_each_wait_is_the_backoff():
    waits = []
    action = failing(6, WarehouseUnavailable("down"))
    assert call_with_retry(action, FAST, "test", sleep=waits.append) == 7
    assert waits == [0.001, 0.002, 0.004, 0.004, 0.004, 0.004]


def test_unreachable_gives_up_after_the_configured_attempts():
    policy = RetryPolicy(initial_s=0.001, max_s=0.001, unavailable_attempts=3)
    waits = []
    with pytest.raises(WarehouseUnavailable) as info:
        call_with_retry(failing(10, WarehouseUnavailable("down")), policy, "x", sleep=waits.append)
    assert len(waits) == 2
    assert "gave up on the warehouse x after 3 attempts" in info.value.__notes__[0]


def test_a_transient_rejection_is_retried_a_bounded_number_of_times():
    policy = RetryPolicy(initial_s=0.001, max_s=0.001, rejected_attempts=4)
    too_many_parts = WarehouseError("Too many parts", code=252)
    waits = []
    assert call_with_retry(failing(3, too_many_parts), policy, "x", sleep=waits.append) == 4
    with pytest.raises(WarehouseError):
        call_with_retry(failing(4, too_many_parts), policy, "x", sleep=waits.append)


def test_each_retry_is_reported_and_giving_up_is_not():
    policy = RetryPolicy(initial_s=0.001, max_s=0.001, rejected_attempts=4)
    too_many_parts = WarehouseError("Too many parts", code=252)
    told = []
    call_with_retry(failing(3, too_many_parts), policy, "x", lambda _: None, told.append)
    assert told == [too_many_parts] * 3
    told.clear()
    with pytest.raises(WarehouseError):
        call_with_retry(failing(9, too_many_parts), policy, "x", lambda _: None, told.append)
    assert len(told) == 3, "three waits before the fourth and last attempt"


def test_a_bad_statement_is_raised_at_once(tmp_path, caplog):
    """A real chDB rejection (unknown column): retrying it could never succeed."""
    with EmbeddedWarehouse(tmp_path / "wh") as wh:
        migrate(wh)
        waits = []
        with caplog.at_level(logging.WARNING), pytest.raises(WarehouseError) as info:
            call_with_retry(
                lambda: wh.insert("alerts", {"alert_id": ["a"], "no_such_column": [1]}),
                RetryPolicy(),
                "insert",
                sleep=waits.append,
            )
        assert waits == [] and not isinstance(info.value, WarehouseUnavailable)
        assert info.value.code not in (None, 252) and "retrying" not in caplog.text


def test_insert_with_retry_writes_the_batch_once_the_warehouse_answers(tmp_path, caplog):
    """The first two inserts fail as if unreachable; the third reaches chDB."""

    class Flaky(EmbeddedWarehouse):
        failures = 2

        def insert(self, table, columns):
            if self.failures:
                self.failures -= 1
                raise WarehouseUnavailable("ClickHouse server unreachable: connection refused")
            super().insert(table, columns)

    with Flaky(tmp_path / "wh") as wh:
        wh.execute("CREATE TABLE hotspot.t (x UInt8) ENGINE = MergeTree ORDER BY x")
        told = []
        with caplog.at_level(logging.WARNING):
            asyncio.run(insert_with_retry(wh, "t", {"x": [1, 2]}, FAST, on_retry=told.append))
        assert wh.query("SELECT x FROM hotspot.t ORDER BY x") == [(1,), (2,)]
        assert [type(e) for e in told] == [WarehouseUnavailable] * 2
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 2 and "attempt 1" in retries[0].getMessage()
    assert "succeeded on attempt 3" in caplog.text


def test_the_policy_comes_from_settings():
    settings = Settings(
        warehouse_retry_initial_s=0.25,
        warehouse_retry_max_s=8,
        warehouse_retry_unavailable_attempts=0,
        warehouse_retry_rejected_attempts=2,
    )
    policy = RetryPolicy.from_settings(settings)
    assert (
        policy.initial_s,
        policy.max_s,
        policy.unavailable_attempts,
        policy.rejected_attempts,
    ) == (0.25, 8, 0, 2)


def test_settings_refuse_a_cap_below_the_first_wait():
    with pytest.raises(ValueError, match="warehouse_retry_max_s"):
        Settings(warehouse_retry_initial_s=5, warehouse_retry_max_s=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0},
        {"max_s": 0.1, "initial_s": 1},
        {"multiplier": 0.5},
        {"rejected_attempts": 0},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs):
    with pytest.raises(ValueError, match="retry|attempts"):
        RetryPolicy(**kwargs)
