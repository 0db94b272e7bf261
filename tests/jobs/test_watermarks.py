"""Watermarks from the normalise stage (jobs/watermarks.py): what each alert carries, the
marks of a batch, the wall-clock marks of quiet feed partitions; and, with real Tansu and real
worker processes, what they are for: two workers at very different speeds make no more alerts
late than one, and a quiet city's open flags close."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import msgspec
import numpy as np
import pytest

from jobs.watermarks import FeedProgress
from pipeline.kafka import committed_offsets, ensure_topics, send_chunks
from pipeline.marks import NO_PROGRESS
from pipeline.outputs import FlagMessage, IncidentMessage
from pipeline.replay import read_jsonl_chunks
from pipeline.settings import Settings, TopicNames
from pipeline.warehouse import open_warehouse
from tests.conftest import WorkerConfig, feed_topics
from tests.jobs.stages.test_correlate_end_to_end import cluster
from tests.jobs.test_worker import (
    camera,
    deadletters,
    encode,
    now_ms,
    produce,
    read_topic,
    tick_every_feed_partition,
)


def progress(idle_s: float = 60.0) -> FeedProgress:
    return FeedProgress(Settings(partitions=2, idle_mark_s=idle_s))


def test_origins_number_feed_partitions_densely():
    p = progress()
    assert p.origins("alerts.alarm_phone", np.array([0, 1])).tolist() == [0, 1]
    assert p.origins("alerts.grid_report", np.array([1])).tolist() == [7]


def test_each_alert_carries_its_origins_progress_before_it_across_batches():
    p = progress()
    came_from, marks = p.after_batch(np.array([3, 5, 3, 3]), np.array([100, 7, 90, 120]))
    assert came_from.origin.tolist() == [3, 5, 3, 3]
    assert came_from.progress_ms.tolist() == [NO_PROGRESS, NO_PROGRESS, 100, 100]
    assert (marks.origin.tolist(), marks.progress_ms.tolist()) == ([3, 5], [120, 7])
    again, _ = p.after_batch(np.array([3, 5, 3, 3]), np.array([100, 7, 90, 120]))
    assert again.progress_ms.tolist() == came_from.progress_ms.tolist()  # a retry: the same
    p.published(marks)
    came_from, marks = p.after_batch(np.array([3, 5]), np.array([110, 8]))
    assert came_from.progress_ms.tolist() == [120, 7]  # from the batch before
    assert (marks.origin.tolist(), marks.progress_ms.tolist()) == ([3, 5], [120, 8])
    assert len(p.after_batch(np.empty(0, np.int64), np.empty(0, np.int64))[1]) == 0


def test_a_quiet_origin_is_marked_at_the_wall_clock_after_idle_time_and_never_back():
    p = progress(idle_s=0.2)
    p.published(p.after_batch(np.array([1]), np.array([5_000_000_000_000]))[1])  # ahead of now
    assert len(p.idle({1, 2}, now_ms=1_000)) == 0  # their clocks start now
    time.sleep(0.25)
    marks = p.idle({1, 2}, now_ms=1_000)
    assert marks.origin.tolist() == [1, 2]
    assert marks.progress_ms.tolist() == [5_000_000_000_000, 1_000]  # never behind what it said
    assert p.idle({1, 2}, now_ms=2_000).progress_ms.tolist() == [5_000_000_000_000, 2_000]
    p.published(p.after_batch(np.array([2]), np.array([2_500]))[1])  # an alert: busy again
    assert p.idle({1, 2}, now_ms=3_000).origin.tolist() == [1]


def test_drained_input_declares_the_largest_progress_for_every_feed_partition_held():
    p = progress()
    assert len(p.drained({0, 1})) == 0  # nothing normalised: nothing to say
    p.published(p.after_batch(np.array([2, 4]), np.array([700, 900]))[1])
    marks = p.drained({1, 2, 4})
    assert marks.origin.tolist() == [1, 2, 4] and marks.progress_ms.tolist() == [900] * 3


def test_marks_carry_each_feed_partitions_next_offset_and_a_restore_resumes_from_them():
    """Issue 17: a normaliser that gets a feed partition resumes at its committed offset with
    the progress of the records before it, so its next alerts carry what an uninterrupted
    run stamped on them."""
    p = progress(idle_s=0.0)
    came_from, marks = p.after_batch(np.array([3, 5, 3]), np.array([100, 7, 120]), {3: 40, 5: 9})
    assert marks.offsets().tolist() == [40, 9]
    p.published(marks)
    assert p.idle({3}, now_ms=50).offsets().tolist() == [40]  # what an idle mark speaks for
    restarted = progress()
    restarted.restore({3: 120}, {3: 40, 5: 9, 6: 0})  # 5: no mark found, 6: nothing before
    came_from, marks = restarted.after_batch(np.array([3, 5, 6]), np.array([130, 8, 1]), {})
    assert came_from.progress_ms.tolist() == [120, NO_PROGRESS, NO_PROGRESS]
    assert marks.offsets().tolist() == [-1, -1, -1]  # no batch end given: not known
    restarted.published(marks)
    assert restarted.drained({3}).offsets().tolist() == [40]  # still the restored offset


# --- real workers --------------------------------------------------------------------------------


def _another_config(worker_config: WorkerConfig, tmp_path) -> WorkerConfig:
    """A second test configuration on the same broker: its own topics, group and data."""
    tag = uuid.uuid4().hex[:8]
    names = TopicNames().model_dump()
    topics = TopicNames(**{name: f"{tag}.{topic}" for name, topic in names.items()})
    settings = worker_config.settings.model_copy(
        update={"topics": topics, "app_id": f"test-{tag}", "data_dir": tmp_path / "other"}
    )
    ensure_topics(worker_config.bootstrap, topics.all(), settings.partitions)
    return WorkerConfig(settings, worker_config.bootstrap)


def _late(config: WorkerConfig) -> set[str]:
    letters = deadletters(config.bootstrap, config.settings.topics.deadletter)
    return {d.alert_id for d in letters if d.reason.value == "late"}


def _worker(config: WorkerConfig, data_dir, log, level: str = "warning") -> subprocess.Popen:
    """``hotspot worker`` (until stopped) in its own process and data directory (chDB allows one
    process per directory)."""
    env = {**config.env(), "HOTSPOT_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "jobs", "worker", "--log-level", level],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _settled(config: WorkerConfig, topics: list[str]) -> bool:
    """Every record of ``topics`` is committed by the group (so all its outputs are out)."""
    committed = committed_offsets(config.bootstrap, config.settings.app_id)
    for topic in topics:
        ends: dict[int, int] = {}
        for record in read_topic(config.bootstrap, topic):
            ends[record.partition] = record.offset + 1
        if any(committed.get((topic, p), 0) < end for p, end in ends.items()):
            return False
    return True


class _Throttle(threading.Thread):
    """Keeps a process stopped most of the time (SIGSTOP / SIGCONT): a worker on a machine
    busy with something else. Pauses stay far below the group's session timeout."""

    def __init__(self, pid: int, running_s: float = 0.1, stopped_s: float = 0.9) -> None:
        super().__init__(daemon=True)
        self.pid, self.running_s, self.stopped_s = pid, running_s, stopped_s
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            os.kill(self.pid, signal.SIGSTOP)
            self.done.wait(self.stopped_s)
            os.kill(self.pid, signal.SIGCONT)
            self.done.wait(self.running_s)

    def stop(self) -> None:
        self.done.set()
        if self.is_alive():
            self.join()
        os.kill(self.pid, signal.SIGCONT)


_ASSIGNED = b"Setting newly assigned partitions"


def _wait_for_a_stable_group(logs: list, workers: list[subprocess.Popen]) -> None:
    """Until every worker holds partitions and no assignment changed for a while (read from
    their logs at level info: aiokafka logs every assignment)."""
    deadline, seen, since = time.monotonic() + 180, -1, time.monotonic()
    while True:
        assert time.monotonic() < deadline, "the group did not form"
        assert all(w.poll() is None for w in workers), "a worker died"
        counts = [log.read_bytes().count(_ASSIGNED) for log in logs]
        if sum(counts) != seen:
            seen, since = sum(counts), time.monotonic()
        elif all(counts) and time.monotonic() - since > 8:
            return
        time.sleep(0.5)


def _replay(config: WorkerConfig, city) -> None:
    send_chunks(
        read_jsonl_chunks(city.replay, []), config.bootstrap, topic_map=feed_topics(config.settings)
    )


@pytest.mark.timeout(900)
def test_two_normalise_workers_at_very_different_speeds_make_no_more_alerts_late_than_one(
    worker_config, city, tmp_path, monkeypatch
):
    """Issue 17: with two workers in one group, the faster one's alerts pushed each
    correlator's watermark past the slower one's, and 43 % of all alerts were dead-lettered as
    late. Each feed partition is an origin with its own progress now: the late alerts of two
    workers, one of them slowed tenfold, are among those of one worker (never more; fewer
    only where a partition moved between the workers while the group formed).

    Measured on the test city (2026-12-06, shared 2-core machine): 39 late alerts with one
    worker and the same 39 with two; with the rule before (one watermark per partition,
    the largest event time seen) 42 with one worker and 3,684 with two."""
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")  # the wall clock has no say here
    _replay(worker_config, city)
    worker_config.run_worker()
    one = _late(worker_config)

    pair = _another_config(worker_config, tmp_path)
    topics = pair.settings.topics
    logs = [tmp_path / "fast.log", tmp_path / "slow.log"]
    with open(logs[0], "wb") as fast_log, open(logs[1], "wb") as slow_log:
        fast = _worker(pair, tmp_path / "fast", fast_log, "info")
        slow = _worker(pair, tmp_path / "slow", slow_log, "info")
        throttle = _Throttle(slow.pid)
        try:
            # Both hold their partitions before the input comes, so each normalises its half.
            _wait_for_a_stable_group(logs, [fast, slow])
            throttle.start()
            _replay(pair, city)
            deadline = time.monotonic() + 600
            while not _settled(pair, [*topics.feeds().values(), topics.normalized]):
                assert time.monotonic() < deadline, "the two workers did not drain their input"
                assert fast.poll() is None and slow.poll() is None, "a worker died"
                time.sleep(3)
        finally:
            throttle.stop()
            for worker in (fast, slow):
                worker.terminate()
            for worker in (fast, slow):
                worker.wait(timeout=120)
    two = _late(pair)

    stored = {}
    for name in ("fast", "slow"):
        with open_warehouse(f"chdb://{(tmp_path / name / 'warehouse').resolve()}") as wh:
            stored[name] = wh.query(f"SELECT count() FROM {wh.database}.alerts FINAL")[0][0]
    assert stored["fast"] > 100 and stored["slow"] > 100, f"both workers normalised: {stored}"
    assert two <= one, (
        f"{len(two)} late with two workers, {len(one)} with one; with two only: "
        f"{sorted(two - one)[:10]}"
    )
    print(f"late alerts: one worker {len(one)}, two workers {len(two)}")


@pytest.mark.timeout(600)
def test_open_flags_close_when_input_stops_within_window_slide_lateness_and_idle_time(
    worker_config, located, tmp_path, monkeypatch
):
    """Issue 17: a partition that received nothing never advanced its watermark, so a quiet
    district's open flags stayed open. Quiet feed partitions now declare the wall clock after
    ``idle_mark_s``: a flag opened by a burst closes once its window has passed, within
    window + slide + lateness + idle time of the last alert (plus the worker's own latency),
    with no further input at all."""
    window_s, slide_s, lateness_s, idle_s = 20, 5, 2, 1
    toml = tmp_path / "settings.toml"
    toml.write_text(
        f"idle_mark_s = {idle_s}\n[correlation]\nwindow_s = {window_s}\nslide_s = {slide_s}\n"
        f"windows_s = [10, 20]\nlateness_s = {lateness_s}\nincident_gap_s = 5\n"
        "burst_gap_s = 1\n"
    )
    monkeypatch.setenv("HOTSPOT_SETTINGS_FILE", str(toml))
    lat, lon, _ = located
    settings = worker_config.settings
    topics = settings.topics
    with open(tmp_path / "worker.log", "wb") as log:
        worker = _worker(worker_config, settings.data_dir, log)
        try:
            deadline = time.monotonic() + 120  # started: idle marks of its empty feeds correlated
            while (topics.normalized, 0) not in committed_offsets(
                worker_config.bootstrap, settings.app_id
            ):
                assert time.monotonic() < deadline and worker.poll() is None, "no worker"
                time.sleep(0.5)
            t0 = now_ms() - 1_000
            burst = [
                (feed, {**alert, **_at(feed, t0 + i * 200)})
                for i, (feed, alert) in enumerate(cluster(lat, lon, t0))
            ]
            produce(
                worker_config.bootstrap,
                [(topics.feed(feed), encode(alert)) for feed, alert in burst],
            )
            last_ms = t0 + (len(burst) - 1) * 200
            bound_s = window_s + slide_s + lateness_s + idle_s + 15  # 15 s: the worker's latency
            flags = []
            while not any(f.status == "close" for f in flags):
                assert now_ms() < last_ms + 1000 * (bound_s + 30), "no flag closed"
                assert worker.poll() is None, "the worker died"
                time.sleep(0.5)
                flags = [
                    msgspec.json.decode(r.value, type=FlagMessage)
                    for r in read_topic(worker_config.bootstrap, topics.flags)
                ]
            closed_after_s = (now_ms() - last_ms) / 1000
        finally:
            worker.terminate()
            worker.wait(timeout=120)
    assert [f.status for f in flags][0] == "open"
    assert closed_after_s <= bound_s, f"closed {closed_after_s:.1f} s after the last alert"
    print(f"flag closed {closed_after_s:.1f} s after the last alert (bound {bound_s} s)")


def _at(feed: str, t: int) -> dict:
    return {"received_at": t} if feed == "dispatch_110" else {"detected_at": t}


def _copies_across_feed_partitions(config: WorkerConfig, lat: float, lon: float, t: int) -> None:
    """Camera alert ``x`` twice, as a feed that redelivered a message without a key: in feed
    partition 0 behind that partition's progress by more than the lateness (late), and in
    partition 1 on time between two neighbours it links with. Partition 0's records go first,
    so one worker normalises the late copy before the other."""
    topic = config.settings.topics.camera
    here = {"lat": lat, "lon": lon}

    def at(alert_id: str, ms: int) -> bytes:
        return encode(camera(alert_id, detected_at=ms, **here))

    produce(config.bootstrap, [(topic, at("lead", t + 900_000)), (topic, at("x", t))], partition=0)
    produce(
        config.bootstrap,
        [(topic, at("b1", t - 10_000)), (topic, at("x", t)), (topic, at("b2", t + 5_000))],
        partition=1,
    )
    tick_every_feed_partition(config, t + 3 * 3_600_000, lat, lon)  # every window closes


def _outcome(config: WorkerConfig) -> tuple[dict, set[bytes]]:
    letters = deadletters(config.bootstrap, config.settings.topics.deadletter)
    # each dead letter once, as the warehouse keeps it (a record may be published twice)
    distinct = {(d.reason.value, d.alert_id, d.topic, d.partition, d.offset) for d in letters}
    counted = collections.Counter(letter[:2] for letter in distinct)
    incidents = {
        msgspec.json.encode(msgspec.json.decode(r.value, type=IncidentMessage))
        for r in read_topic(config.bootstrap, config.settings.topics.incidents)
    }
    return dict(counted), incidents


@pytest.mark.timeout(900)
def test_a_copy_in_another_feed_partition_has_the_same_fate_with_one_worker_or_two(
    worker_config, located, tmp_path, monkeypatch
):
    """Issue 17, regression: the normaliser deduplicated across feed partitions, so with one
    worker the late copy (normalised first) hid the on-time one and the alert never entered
    the window, while two workers, one per feed partition, let the on-time copy through:
    another incident and one more alert in it. Each copy is now judged by its own origin
    (feed partition): the late one is dead-lettered once, the other is an incident's member,
    with one worker and with two; the warehouse holds the alert once."""
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")  # the wall clock has no say here
    lat, lon, _ = located
    t = now_ms() - 4 * 3_600_000
    _copies_across_feed_partitions(worker_config, lat, lon, t)
    worker_config.run_worker()
    one = _outcome(worker_config)
    with open_warehouse(worker_config.settings.resolved_warehouse_url) as wh:
        stored = wh.query(
            f"SELECT count() FROM {wh.database}.alerts FINAL WHERE alert_id = 'camera:x'"
        )[0][0]

    pair = _another_config(worker_config, tmp_path)
    topics = pair.settings.topics
    logs = [tmp_path / "w0.log", tmp_path / "w1.log"]
    with open(logs[0], "wb") as log0, open(logs[1], "wb") as log1:
        workers = [_worker(pair, tmp_path / "w0", log0, "info")]
        workers.append(_worker(pair, tmp_path / "w1", log1, "info"))
        try:
            _wait_for_a_stable_group(logs, workers)  # each holds one partition of each topic
            _copies_across_feed_partitions(pair, lat, lon, t)
            deadline = time.monotonic() + 300
            while not _settled(pair, [*topics.feeds().values(), topics.normalized]):
                assert time.monotonic() < deadline, "the two workers did not drain their input"
                assert all(w.poll() is None for w in workers), "a worker died"
                time.sleep(2)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=120)
    two = _outcome(pair)

    late_x = ("late", "camera:x")
    assert one[0].get(late_x) == 1, f"the late copy is dead-lettered once: {one[0]}"
    members = [msgspec.json.decode(i, type=IncidentMessage).n_alerts for i in one[1]]
    assert 3 in members, f"the on-time copy links b1, x and b2: incidents of {members} alerts"
    assert stored == 1, "the alerts table holds the alert once (ReplacingMergeTree, FINAL)"
    assert two == one, f"two workers: {two}, one worker: {one}"
