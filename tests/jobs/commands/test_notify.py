"""``hotspot notify`` on a real Tansu broker, posting to a real loopback HTTP server that is
down for the first seconds: every notice event is delivered once it comes back, none is lost,
any copy carries the same idempotency key, and a second run posts nothing (offsets committed
after delivery)."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
import pytest

from pipeline.patrol import AckRecord, NoticeBook, PatrolParams
from tests.conftest import new_worker_config
from tests.jobs.test_worker import produce
from tests.patrol.test_book import MINUTE, T0, flag
from tests.patrol.webhook_server import Gateway, free_port

pytestmark = pytest.mark.timeout(300)


def notice_events() -> list:
    """Two notices: A received at 3 minutes; B reminded and escalated (to the district and the
    city), then received late."""
    book = NoticeBook(1, PatrolParams())
    a, b = book.flags(
        [flag(), msgspec.structs.replace(flag(), flag_id="flg-0000000000000bbb", station_id="PS2")]
    )
    received = book.apply(
        AckRecord(a.notice_id, "PS1", "received", T0 + 3 * MINUTE, None, None, "")
    )
    timers = book.due(T0 + 31 * MINUTE)
    late = book.apply(AckRecord(b.notice_id, "PS2", "received", T0 + 33 * MINUTE, None, None, ""))
    return [a, b, received, *timers, late]


def test_notices_reach_the_gateway_after_it_was_down_none_lost(tmp_path, broker, city):
    config = new_worker_config(tmp_path, broker, city)
    events = notice_events()
    topic = config.settings.topics.notices
    produce(
        broker.bootstrap,
        [(topic, msgspec.json.encode(e)) for e in events],
    )
    gateway = Gateway(free_port(), refused_first=1)
    env = {
        **config.env(),
        "HOTSPOT_WEBHOOK_URLS": json.dumps(
            {
                "station": gateway.url("/sms"),
                "district": gateway.url("/cmd"),
                "city": gateway.url("/cmd"),
            }
        ),
        "HOTSPOT_WEBHOOK_RETRY_INITIAL_S": "0.2",
        "HOTSPOT_WEBHOOK_RETRY_MAX_S": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jobs",
        "notify",
        "--until-drained",
        "--bootstrap",
        broker.bootstrap,
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = []
    try:
        # down: wait until it has failed to connect twice (retried with backoff), then start
        while sum("not taken (ClientConnectorError)" in line for line in seen) < 2:
            line = process.stderr.readline()
            assert line, "notify ended while the gateway was down:\n" + "".join(seen)[-2000:]
            seen.append(line)
        gateway.start()
        out, err = process.communicate(timeout=120)
    finally:
        gateway.stop()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "not taken (HTTP 503)" in err  # then busy once, and retried
    # every event to its station; the escalation also to the command centre, once for both
    # district and city (one URL)
    expected = {("/sms", e.event_id) for e in events} | {
        ("/cmd", e.event_id) for e in events if e.kind == "escalated" or e.late
    }
    taken = {(path, key) for path, key, _ in gateway.taken}
    assert taken == expected
    for _path, key, body in gateway.taken:  # a copy is the same event under the same key
        assert body["event_id"] == key
    (escalation,) = [b for p, _, b in gateway.taken if p == "/cmd" and b["kind"] == "escalated"]
    assert escalation["recipients"] == [
        {"unit": "D1", "level": "district"},
        {"unit": "city", "level": "city"},
    ]
    assert f"posted: {len(gateway.taken)}" in out
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "posted: 0," in again.stdout  # committed after delivery
