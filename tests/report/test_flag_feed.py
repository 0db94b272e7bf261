"""``hotspot top --bootstrap``: the open flags as the flags topic tells them (real Tansu)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import msgspec
import pytest

from pipeline.kafka import ensure_topics
from pipeline.outputs import FlagMessage
from pipeline.report.flag_feed import FlagFeed
from tests.jobs.test_worker import produce

pytestmark = pytest.mark.timeout(120)


def flag(flag_id: str, version: int, status: str, score: float) -> bytes:
    return msgspec.json.encode(
        FlagMessage(
            flag_id=flag_id,
            version=version,
            status=status,
            boundary_ms=1_000 * version,
            opened_ms=0,
            lat=30.25,
            lon=120.15,
            radius_m=250.0,
            window_s=600,
            cell_id=7,
            score=score,
            p_value=0.001,
            gi_z=None,
            observed=12,
            expected=2.5,
            n_sources=2,
            source_counts={"camera": 9, "dispatch_110": 3},
            category_counts={"fight": 12},
            grid=0,
            first_event_ms=None,
            last_event_ms=None,
            community_code="D01S01C01",
            station_id=f"P-{flag_id}",
        )
    )


@pytest.fixture
def flags_topic(broker):
    topic = f"{uuid.uuid4().hex[:8]}.flags"
    ensure_topics(broker.bootstrap, [topic], 2)
    produce(
        broker.bootstrap,
        [
            (topic, flag("a", 1, "open", 9.0)),
            (topic, flag("b", 1, "open", 12.0)),
            (topic, flag("a", 2, "update", 8.0)),
            (topic, flag("b", 2, "close", 2.0)),
            (topic, flag("c", 1, "open", 7.5)),
            (topic, b"not a flag"),
        ],
    )
    return topic


def test_the_latest_version_of_each_flag_decides_whether_it_is_open(broker, flags_topic):
    async def read():
        async with FlagFeed(broker.bootstrap, flags_topic) as feed:
            while not await feed.poll():
                pass
            return feed.open_flags(), feed.undecodable

    (flags, clock), undecodable = asyncio.run(read())
    assert [(f.flag_id, f.version, f.score) for f in flags] == [("a", 2, 8.0), ("c", 1, 7.5)]
    assert clock == 2_000 and undecodable == 1


def test_top_once_prints_the_open_flags_of_the_topic(broker, flags_topic, tmp_path):
    env = {
        **os.environ,
        "HOTSPOT_DATA_DIR": str(tmp_path),
        "HOTSPOT_TOPICS__FLAGS": flags_topic,
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "jobs", "top", "--once", "--bootstrap", broker.bootstrap],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "P-a" in result.stdout and "P-c" in result.stdout and "P-b" not in result.stdout
    assert "2 open" in result.stdout


def test_top_shows_each_notice_s_receipt_state_and_age(broker, flags_topic, tmp_path):
    """Notice events of flag a (reminded, escalated: the escalation through another partition,
    before the rest) and of flag c (received at 3 minutes), as the notice book makes them."""
    from pipeline.patrol import AckRecord, NoticeBook, PatrolParams

    notices = f"{uuid.uuid4().hex[:8]}.notices"
    ensure_topics(broker.bootstrap, [notices], 2)
    book = NoticeBook(0, PatrolParams())
    opened = [msgspec.json.decode(flag(f, 1, "open", 9.0), type=FlagMessage) for f in "ac"]
    issued_a, issued_c = book.flags(opened)
    received = book.apply(
        AckRecord(
            issued_c.notice_id, "P-c", "received", issued_c.issued_ms + 180_000, None, None, ""
        )
    )
    reminder, escalated = book.due(issued_a.issued_ms + 31 * 60_000)
    encode = msgspec.json.encode
    produce(broker.bootstrap, [(notices, encode(escalated))], partition=1)
    produce(
        broker.bootstrap,
        [(notices, encode(e)) for e in (issued_a, issued_c, received, reminder)],
        partition=0,
    )
    env = {
        **os.environ,
        "HOTSPOT_DATA_DIR": str(tmp_path),
        "HOTSPOT_TOPICS__FLAGS": flags_topic,
        "HOTSPOT_TOPICS__NOTICES": notices,
        "COLUMNS": "220",
    }
    result = subprocess.run(
        [sys.executable, "-m", "jobs", "top", "--once", "--bootstrap", broker.bootstrap],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (row_a,) = [line for line in result.stdout.splitlines() if "P-a" in line]
    (row_c,) = [line for line in result.stdout.splitlines() if "P-c" in line]
    assert "issued 0m ESCALATED" in row_a  # the clock: the newest flag boundary, 1 s on
    assert "received, rcvd 3m" in row_c and "LATE" not in row_c


def test_a_feed_on_a_topic_that_does_not_exist_closes_cleanly(broker):
    """Regression: left at once, aiokafka's stop() awaited a consumer task cancelled before it
    ever ran and raised CancelledError (`hotspot top --once --bootstrap` then exited 1 with a
    traceback on a broker without the flags topic)."""

    async def read() -> tuple[bool, list]:
        async with FlagFeed(broker.bootstrap, f"no-flags-{uuid.uuid4().hex[:8]}") as feed:
            return await feed.poll(), feed.open_flags()[0]

    for _ in range(3):
        assert asyncio.run(read()) == (True, [])
