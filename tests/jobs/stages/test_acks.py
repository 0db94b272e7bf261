"""The patrol loop on a real Tansu broker with real worker processes: notices issued for
opened flags, acks taken in through ``hotspots.acks``, reminders and escalations on event time,
every bad ack dead-lettered with its reason; the same input gives the same notice events, also
when workers are killed (SIGKILL) mid-way and restarted.

Each run goes in phases, a worker draining after each, so the log's order is the input's:
1. three planted clusters (as in ``test_correlate_end_to_end``) at three places, and a tick in
   every feed partition 5 minutes on: three flags open, three notices are issued, no timer is
   due yet (the watermark is 2 minutes behind the tick);
2. acks: notice A received 3 minutes after its issue, and one ack of every bad class;
3. a tick 40 minutes on: B and C are reminded at 5 and escalated at 30 minutes of event time;
4. C received 33 minutes after its issue (a late receipt, sent with ``hotspot ack``), A
   dispatched.

The workers run with ``idle_mark_s = 0``: the input is from the last 90 minutes, and a worker
slower than a minute (a loaded machine) would otherwise declare the wall clock for its idle
feed partitions, firing every timer before the phase that should come first.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import msgspec
import numpy as np
import pytest

from pipeline.deadletter import DeadLetter
from pipeline.geo.admin_units import load_registry
from pipeline.patrol import NoticeEvent
from tests.conftest import new_worker_config
from tests.jobs.stages.test_correlate_end_to_end import MINUTE, cluster
from tests.jobs.test_worker import encode, produce, read_topic, tick_every_feed_partition

pytestmark = pytest.mark.timeout(1200)


def places(registry_path) -> list[tuple[float, float]]:
    """Three grid centroids of the city, far apart (each the farthest from those before)."""
    registry = load_registry(registry_path)
    lat, lon = registry.grid_centroid_lat, registry.grid_centroid_lon
    chosen = [0]
    for _ in range(2):
        d = np.min([(lat - lat[c]) ** 2 + (lon - lon[c]) ** 2 for c in chosen], axis=0)
        chosen.append(int(np.argmax(d)))
    return [(float(lat[c]), float(lon[c])) for c in chosen]


def notice_events(config) -> dict[str, NoticeEvent]:
    """The notice events on the topic by event id; a re-emitted one must be identical."""
    decode = msgspec.json.Decoder(NoticeEvent).decode
    events: dict[str, NoticeEvent] = {}
    for record in read_topic(config.bootstrap, config.settings.topics.notices):
        event = decode(record.value)
        assert events.setdefault(event.event_id, event) == event, event.event_id
        assert record.key.decode() == event.addressed_to[0]
    return events


def ack_deadletters(config) -> set[tuple[str, str]]:
    decode = msgspec.json.Decoder(DeadLetter).decode
    letters = [
        decode(r.value) for r in read_topic(config.bootstrap, config.settings.topics.deadletter)
    ]
    return {(d.reason.value, d.topic.rsplit(".", 1)[-1]) for d in letters if d.source == "acks"}


def issued(config) -> list[NoticeEvent]:
    """The issued notices, in the order of the places (nearest centre)."""
    found = [e for e in notice_events(config).values() if e.kind == "issued"]
    assert len(found) == 3, [e.notice_id for e in found]
    return [
        min(found, key=lambda e, p=p: (e.lat - p[0]) ** 2 + (e.lon - p[1]) ** 2)
        for p in places(config.settings.registry_path)
    ]


def ack(notice: NoticeEvent, action: str, after_min: float, unit: str | None = None) -> bytes:
    return encode(
        {
            "notice_id": notice.notice_id,
            "unit": unit or notice.station_id,
            "action": action,
            "at": notice.issued_ms + int(after_min * MINUTE),
            "officer_id": "officer-0042",
        }
    )


def ack_command(config, *args: str) -> None:
    """``hotspot ack``, as an operator runs it for a station without a client."""
    run = subprocess.run(
        [sys.executable, "-m", "jobs", "ack", *args, "--bootstrap", config.bootstrap],
        env=config.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "sent to" in run.stdout


def phases(config, t0: int) -> list:
    """The input of each phase, as functions of the config (phase 2 and 4 need the notices)."""
    topics = config.settings.topics
    where = places(config.settings.registry_path)
    lat, lon = where[0]

    def clusters():
        messages = []
        for n, (a, o) in enumerate(where):
            for feed, alert in cluster(a, o, t0):
                alert = {
                    k: f"p{n}-{v}" if k in ("alert_id", "incident_id") else v
                    for k, v in alert.items()
                }
                messages.append((topics.feed(feed), encode(alert)))
        produce(config.bootstrap, messages)
        tick_every_feed_partition(config, t0 + 5 * MINUTE, lat, lon)

    def acks():
        a, b, _ = issued(config)
        bad_id = {"notice_id": a.notice_id, "unit": a.station_id, "at": a.issued_ms}
        sends = [
            ack(a, "received", 3),
            ack(a, "received", 4),  # duplicate
            ack(b, "received", 1, unit="PS-NOBODY"),  # not responsible
            ack(b, "received", -1),  # before its notice
            ack(msgspec.structs.replace(b, notice_id="ntc-0-0000000000000000"), "received", 1),
            b"{oops",  # malformed
            encode(bad_id),  # no action: missing field
        ]
        produce(config.bootstrap, [(topics.acks, v) for v in sends], partition=0)

    def later():
        tick_every_feed_partition(config, t0 + 40 * MINUTE, lat, lon)

    def late_acks():
        a, _, c = issued(config)
        at = str(c.issued_ms + 33 * MINUTE)
        ack_command(config, c.notice_id, "--unit", c.station_id, "--officer", "o-7", "--at", at)
        produce(config.bootstrap, [(topics.acks, ack(a, "dispatched", 10))], partition=0)

    return [clusters, acks, later, late_acks]


@pytest.fixture(scope="module")
def t0() -> int:
    return (int(time.time() * 1000) // MINUTE - 90) * MINUTE


@pytest.fixture(scope="module")
def steady(tmp_path_factory, broker, city, t0):
    """The four phases, one worker draining after each."""
    config = new_worker_config(tmp_path_factory.mktemp("steady"), broker, city)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTSPOT_IDLE_MARK_S", "0")  # recorded time only: see the module docstring
        for phase in phases(config, t0):
            phase()
            config.run_worker()
    return config


def test_acked_at_three_minutes_no_reminder_never_acked_reminded_and_escalated(steady):
    a, b, c = issued(steady)
    events = notice_events(steady).values()

    def story(notice):
        return [
            (e.kind, e.at_ms - notice.issued_ms, e.late)
            for e in sorted(events, key=lambda e: int(e.event_id.rsplit("/", 1)[1]))
            if e.notice_id == notice.notice_id and e.kind != "raised"
        ]

    assert len({a.notice_id, b.notice_id, c.notice_id}) == 3
    for notice in (a, b, c):
        assert notice.station_id and notice.addressed_to[0] == notice.station_id
        assert notice.community_code in notice.addressed_to
        assert notice.flag_id and notice.flag_version >= 1 and notice.observed >= 10
        assert notice.issued_ms == notice.at_ms
    assert story(a) == [
        ("issued", 0, False),
        ("received", 3 * MINUTE, False),
        ("dispatched", 10 * MINUTE, False),
    ]
    assert story(b) == [
        ("issued", 0, False),
        ("reminder", 5 * MINUTE, False),
        ("escalated", 30 * MINUTE, False),
    ]
    assert story(c) == [
        ("issued", 0, False),
        ("reminder", 5 * MINUTE, False),
        ("escalated", 30 * MINUTE, False),
        ("received", 33 * MINUTE, True),
    ]
    (escalated,) = [e for e in events if e.notice_id == b.notice_id and e.kind == "escalated"]
    assert escalated.addressed_to[:2] == [b.district_code, "city"]
    (receipt,) = [e for e in events if e.notice_id == a.notice_id and e.kind == "received"]
    assert receipt.receipt_s == 180.0 and receipt.unit == a.station_id
    assert receipt.officer and receipt.officer != "officer-0042"  # pseudonymised


def test_every_bad_ack_class_is_dead_lettered_with_its_reason(steady):
    assert ack_deadletters(steady) == {
        ("duplicate_ack", "normalized"),
        ("unit_not_responsible", "normalized"),
        ("before_notice", "normalized"),
        ("unknown_notice", "normalized"),
        ("malformed_json", "acks"),
        ("missing_field", "acks"),
    }


#: a kill in every phase, where the notices' outputs are out but neither checkpointed nor
#: committed, or a checkpoint is half written
KILLS = ("outputs-delivered:1", "outputs-delivered:1", "checkpoint-torn:1", "outputs-delivered:1")


def test_the_same_input_gives_the_same_events_also_with_workers_killed_mid_way(
    steady, tmp_path, broker, city, t0, monkeypatch
):
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")  # recorded time only: see the module docstring
    crashed = new_worker_config(tmp_path, broker, city)
    env = {**crashed.env(), "HOTSPOT_CHECKPOINT_EVERY_S": "0.2", "HOTSPOT_BATCH_MAX": "50"}
    for phase, spec in zip(phases(crashed, t0), KILLS, strict=True):
        phase()
        run = subprocess.run(
            [sys.executable, "-m", "jobs", "worker", "--until-drained"],
            env={**env, "HOTSPOT_FAILPOINT": spec},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert run.returncode == -signal.SIGKILL, f"{spec} not reached:\n{run.stderr[-2000:]}"
        crashed.run_worker()
    expected, got = notice_events(steady), notice_events(crashed)
    assert len(expected) >= 10  # the three stories of the first test
    assert got == expected
    assert ack_deadletters(crashed) == ack_deadletters(steady)
