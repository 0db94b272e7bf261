"""False alarms quiet a cell, on a real Tansu broker with real worker processes.

A station calls the notice of a flag a false alarm; the flag closes; the same cluster of alerts
at the same place an hour later does not flag the cell again (no flag version on
``hotspots.flags``, no notice), while twice as many alerts there (a score beyond the margin)
do. The ack is sent through the partition of ``hotspots.acks`` that is *not* the notice's
partition of ``alerts.normalized``: the intake routes it by the notice id to the partition that
owns the cell, where it takes effect at its place in that partition's log (the ordering rule:
flag versions before it were out already, those after it are screened). The same input through
a second group of two workers, one of them armed to be killed at its first delivery in the third
phase (whether it gets there depends on the partitions it is given), gives the same flags and
notices.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import msgspec
import pytest

from pipeline.outputs import FlagMessage
from pipeline.patrol import notice_partition
from pipeline.warehouse import open_warehouse
from tests.conftest import new_worker_config
from tests.jobs.stages.test_acks import notice_events, places
from tests.jobs.stages.test_correlate_end_to_end import MINUTE, cluster
from tests.jobs.test_worker import encode, produce, read_topic, tick_every_feed_partition

pytestmark = pytest.mark.timeout(1200)


def flags(config) -> dict[tuple[str, int], FlagMessage]:
    decode = msgspec.json.Decoder(FlagMessage).decode
    out = {}
    for record in read_topic(config.bootstrap, config.settings.topics.flags):
        flag = decode(record.value)
        out[flag.flag_id, flag.version] = flag
    return out


def phases(config, t0: int) -> list:
    topics = config.settings.topics
    lat, lon = places(config.settings.registry_path)[0]

    def alerts(at: int, tag: str, copies: int = 1) -> None:
        messages = []
        for copy in range(copies):
            for feed, alert in cluster(lat, lon, at + copy * 60_000):  # apart: not repeats
                alert = {
                    k: f"{tag}{copy}-{v}" if k in ("alert_id", "incident_id") else v
                    for k, v in alert.items()
                }
                messages.append((topics.feed(feed), encode(alert)))
        produce(config.bootstrap, messages)

    def first():
        alerts(t0, "a")
        tick_every_feed_partition(config, t0 + 5 * MINUTE, lat, lon)

    def dismiss():
        (notice,) = [e for e in notice_events(config).values() if e.kind == "issued"]
        value = encode(
            {
                "notice_id": notice.notice_id,
                "unit": notice.station_id,
                "action": "false_alarm",
                "reason": "no_incident",
                "at": notice.issued_ms + 2 * MINUTE,
            }
        )
        other = 1 - notice_partition(notice.notice_id)  # two partitions: the one it is not on
        produce(config.bootstrap, [(topics.acks, value)], partition=other)

    def same_again():  # the first flag closes, then the same cluster an hour on
        tick_every_feed_partition(config, t0 + 60 * MINUTE, lat, lon)
        alerts(t0 + 62 * MINUTE, "b")
        tick_every_feed_partition(config, t0 + 67 * MINUTE, lat, lon)

    def risen():  # later, twice the alerts at the same places: beyond the margin
        tick_every_feed_partition(config, t0 + 110 * MINUTE, lat, lon)
        alerts(t0 + 112 * MINUTE, "c", copies=2)
        tick_every_feed_partition(config, t0 + 117 * MINUTE, lat, lon)

    return [first, dismiss, same_again, risen]


@pytest.fixture(scope="module")
def t0() -> int:
    return (int(time.time() * 1000) // MINUTE - 150) * MINUTE


@pytest.fixture(scope="module")
def steady(tmp_path_factory, broker, city, t0):
    """The phases, one worker draining after each; the published flags after each phase."""
    config = new_worker_config(tmp_path_factory.mktemp("steady"), broker, city)
    seen = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTSPOT_IDLE_MARK_S", "0")  # recorded time only, as in test_acks
        for phase in phases(config, t0):
            phase()
            config.run_worker()
            seen.append(flags(config))
    return config, seen


def test_a_false_alarm_holds_the_same_cluster_and_a_rise_beyond_the_margin_flags_again(steady):
    config, seen = steady
    first, dismissed, again, risen = seen
    (opened,) = [f for f in first.values() if f.status == "open"]
    events = sorted(notice_events(config).values(), key=lambda e: (e.notice_id, e.event_id))
    (alarm,) = [e for e in events if e.kind == "false_alarm"]
    assert alarm.flag_id == opened.flag_id and alarm.cell_id == opened.cell_id
    assert dismissed == first
    # the first flag closed; the same cluster an hour on flagged nothing anywhere
    assert {f.status for k, f in again.items() if k not in first} == {"update", "close"}
    assert {f.flag_id for f in again.values()} == {opened.flag_id}
    # twice the alerts: a new flag of the same cell, published as opened, with its notice
    new = {k: f for k, f in risen.items() if f.flag_id != opened.flag_id}
    assert new, "the risen cluster was not flagged"
    first_version = min(new.values(), key=lambda f: f.version)
    assert first_version.status == "open" and first_version.cell_id == opened.cell_id
    assert first_version.score >= 1.5 * alarm.score
    # stored for analysts: the worker's sink wrote the false alarm per cell
    with open_warehouse(f"chdb://{(config.settings.data_dir / 'warehouse').resolve()}") as wh:
        stored = wh.query("SELECT cell_id, false_alarms, reasons FROM hotspot.false_alarms_by_cell")
    assert stored == [(opened.cell_id, 1, ["no_incident"])]
    issued = [e for e in events if e.kind == "issued"]
    assert [e.flag_id for e in issued] == sorted(
        [opened.flag_id, first_version.flag_id], key=lambda f: f.removeprefix("flg-")
    )


def test_without_the_false_alarm_the_same_cluster_flags_the_cell_again(
    steady, tmp_path, broker, city, t0, monkeypatch
):
    """The control: what the hold stopped would have been flagged."""
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")
    config, seen = steady
    control = new_worker_config(tmp_path, broker, city)
    first, _, same_again, _ = phases(control, t0)
    for phase in (first, same_again):
        phase()
        control.run_worker()
    (opened,) = [f for f in seen[0].values() if f.status == "open"]
    again = [f for f in flags(control).values() if f.flag_id != opened.flag_id]
    assert {(f.status, f.cell_id) for f in again if f.version == 1} == {("open", opened.cell_id)}
    issued = [e for e in notice_events(control).values() if e.kind == "issued"]
    assert sorted(e.flag_id for e in issued) == sorted([opened.flag_id, again[0].flag_id])


def test_two_workers_one_killed_mid_way_hold_the_same_flags(steady, tmp_path, broker, city, t0):
    config, seen = steady
    other = new_worker_config(tmp_path, broker, city)
    env = {
        **other.env(),
        "HOTSPOT_IDLE_MARK_S": "0",
        "HOTSPOT_CHECKPOINT_EVERY_S": "0.2",
        "HOTSPOT_SESSION_TIMEOUT_S": "3",  # a killed worker's partitions move on sooner
    }
    for n, phase in enumerate(phases(other, t0)):
        phase()
        pair = [
            subprocess.Popen(
                [sys.executable, "-m", "jobs", "worker", "--until-drained"],
                env={
                    **env,
                    "HOTSPOT_DATA_DIR": str(tmp_path / f"w{w}"),  # chDB: a folder each
                    **({"HOTSPOT_FAILPOINT": "outputs-delivered:1"} if n == 2 and w else {}),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(2)
        ]
        for worker in pair:
            _, err = worker.communicate(timeout=240)
            assert worker.returncode in (0, -signal.SIGKILL), err[-2000:]
        other.run_worker()  # drain what a killed worker left
    assert flags(other) == seen[-1]
    assert notice_events(other) == notice_events(config)
