"""N workers in one consumer group give the flags and incidents of one (jobs/consumer.py,
jobs/stages/correlators.py), and so do workers joining and leaving mid-run.

Real Tansu broker, real worker processes. Each run replays the test city into topics of its
own; its workers share the consumer group and the topics, each with its own data directory
(chDB allows one process per directory). A run is over once the group has committed every
partition of every topic to its end, twice in a row; then one alert per partition, far past
every window, is sent and drained, and the workers get SIGTERM.
The reference is one worker draining alone. Compared: flag and incident records on their
topics (each id and version once), and the rows of every worker's warehouse together.

Lateness is the default (120 s): an alert is late only behind its own feed partition's
progress, carried on it by whichever worker normalised it, and restored from the watermark
marks by a worker that takes a feed partition over (jobs/mark_reader.py); so the same alerts
are late however the feed partitions are split or moved. The closing alerts are sent once the
city is drained.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from pipeline.kafka import committed_offsets
from tests.conftest import new_worker_config
from tests.jobs.stages.test_correlators import close_every_window, replay, topic_outputs
from tests.jobs.test_backfill_matches_live import warehouse_rows

pytestmark = pytest.mark.timeout(1500)


class Group:
    """Worker processes of one consumer group, each with its own data directory."""

    def __init__(self, config, tmp_path) -> None:
        self.config = config
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def data_dir(self, i: int):
        return self.tmp_path / f"{self.config.settings.app_id}-w{i}"

    def start(self, until_drained: bool = False) -> subprocess.Popen:
        data = self.data_dir(len(self.processes))
        env = {
            **self.config.env(),
            "HOTSPOT_DATA_DIR": str(data),
            "HOTSPOT_SESSION_TIMEOUT_S": "3",  # a killed worker's partitions move on sooner
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "jobs", "worker", "--log-level", "warning"]
            + (["--until-drained"] if until_drained else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        process.send_signal(sig)
        assert process.wait(timeout=120) in (0, -signal.SIGKILL), "the worker failed to stop"

    def wait_drained(self, timeout_s: float = 600) -> None:
        """Until the group has committed every partition to its end, twice in a row."""
        deadline, streak = time.monotonic() + timeout_s, 0
        while streak < 2:
            assert time.monotonic() < deadline, "the group did not drain its topics"
            assert any(p.poll() is None for p in self.processes), "every worker has exited"
            time.sleep(2.0)
            streak = streak + 1 if self._drained() else 0

    def _drained(self) -> bool:
        settings, bootstrap = self.config.settings, self.config.bootstrap
        committed = committed_offsets(bootstrap, settings.app_id)
        ends = _ends(bootstrap, [*settings.topics.feeds().values(), *_downstream(settings)])
        return all(committed.get(tp, 0) >= end for tp, end in ends.items())

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.stop(process)

    def outputs(self) -> dict:
        """The run's topic records, and the rows of every worker's warehouse together."""
        urls = [
            f"chdb://{(self.data_dir(i) / 'warehouse').resolve()}"
            for i in range(len(self.processes))
        ]
        return {**topic_outputs(self.config), **stored_rows(*urls)}


def stored_rows(*urls: str) -> dict[str, set[str]]:
    """Each table's rows (as in ``test_backfill_matches_live``) over all the warehouses."""
    union: dict[str, set[str]] = {}
    for url in urls:
        for table, rows in warehouse_rows(url).items():
            if table == "deadletters":  # (row, count) pairs: a row stored twice counts once
                rows = [row for row, _ in rows]
            union.setdefault(table, set()).update(map(repr, rows))
    return union


def _downstream(settings) -> list[str]:
    t = settings.topics
    return [t.normalized, t.deadletter, t.incidents, t.flags]


def _ends(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    from tests.jobs.test_worker import read_topic

    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        for record in read_topic(bootstrap, topic):
            key = (topic, record.partition)
            ends[key] = max(ends.get(key, 0), record.offset + 1)
    return ends


def reference(tmp_path, broker, city) -> dict:
    config = new_worker_config(tmp_path, broker, city)
    replay(config, city.replay)
    config.run_worker()
    close_every_window(config, city)
    config.run_worker()
    return {**topic_outputs(config), **stored_rows(config.settings.resolved_warehouse_url)}


@pytest.fixture
def yesterday(monkeypatch):
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")  # a replay of yesterday: no wall clock


def run_group(tmp_path, broker, city, scenario) -> dict:
    config = new_worker_config(tmp_path, broker, city)
    replay(config, city.replay)
    group = Group(config, tmp_path)
    try:
        scenario(group)
        group.wait_drained()
        close_every_window(config, city)
        group.wait_drained()
    finally:
        group.close()
    return group.outputs()


def _check(got: dict, expected: dict, what: str) -> None:
    assert expected["flag records"] and expected["incident records"], "the hotspot was found"
    assert any("'late'" in row for row in expected["deadletters"]), "some alerts are late"
    for name in expected:
        missing, extra = expected[name] - got[name], got[name] - expected[name]
        assert got[name] == expected[name], (
            f"{name} differ with {what}: {len(missing)} missing, e.g. {sorted(missing)[:2]}; "
            f"{len(extra)} extra, e.g. {sorted(extra)[:2]}"
        )


def test_two_and_three_workers_give_the_outputs_of_one(tmp_path, broker, city, yesterday):
    expected = reference(tmp_path, broker, city)
    for n in (2, 3):

        def start_n(group: Group, n: int = n) -> None:
            for _ in range(n):
                group.start()

        _check(run_group(tmp_path, broker, city, start_n), expected, f"{n} workers")


@pytest.mark.parametrize("leaving", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_worker_joining_and_one_leaving_mid_run_change_nothing(
    tmp_path, broker, city, yesterday, leaving
):
    expected = reference(tmp_path, broker, city)

    def join_then_leave(group: Group) -> None:
        first = group.start()
        time.sleep(8.0)  # it holds every partition and is working
        group.start()
        time.sleep(8.0)  # the group rebalanced; both work
        group.stop(first, leaving)

    _check(run_group(tmp_path, broker, city, join_then_leave), expected, "a join and a leave")


def test_workers_run_until_drained_stop_once_the_group_has_drained_with_the_outputs_of_one(
    tmp_path, broker, city, yesterday
):
    """``hotspot worker --until-drained`` assumed it was alone in its group: it stopped once
    its own partitions were read, and declared the input complete only for the feed
    partitions it held, at the progress it had seen. Two such workers in one group now stop
    only once the group has committed all its input and what came of it, and declare every
    feed partition complete; no closing alerts are sent, so the last windows close on those
    declarations alone, as with one worker."""
    one = new_worker_config(tmp_path, broker, city)
    replay(one, city.replay)
    one.run_worker()
    expected = {**topic_outputs(one), **stored_rows(one.settings.resolved_warehouse_url)}

    config = new_worker_config(tmp_path, broker, city)
    replay(config, city.replay)
    group = Group(config, tmp_path)
    workers = [group.start(until_drained=True) for _ in range(2)]
    codes = [w.wait(timeout=600) for w in workers]
    assert codes == [0, 0], f"exit codes {codes}"
    assert group._drained(), "a worker stopped before the group had processed all its input"
    _check(group.outputs(), expected, "two workers run --until-drained")
