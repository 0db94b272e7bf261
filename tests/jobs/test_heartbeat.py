"""The worker's progress lines and its summary at stop (issue 21, item 6): what a person sees
at the default log level, from a real worker process on the session's Tansu broker."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from jobs.heartbeat import totals
from pipeline.kafka import send_chunks
from pipeline.metrics import Metrics
from pipeline.replay import read_jsonl_chunks
from tests.conftest import feed_topics

pytestmark = pytest.mark.timeout(600)


def test_totals_sum_every_label():
    metrics = Metrics()
    metrics.received.labels("camera").inc(3)
    metrics.received.labels("dispatch_110").inc(2)
    metrics.deadlettered.labels("camera", "malformed_json").inc()
    metrics.deadlettered.labels("camera", "late").inc(4)
    metrics.flags.inc(7)
    metrics.consumer_lag.labels("alerts.camera", "0").set(11)
    metrics.consumer_lag.labels("alerts.camera", "1").set(1)
    t = totals(metrics)
    assert (t.received, t.deadletters, t.flags, t.lag, t.alerts) == (5, 5, 7, 12, 0)


def test_the_worker_says_what_it_did_and_keeps_client_chatter_quiet(worker_config, city):
    sent = send_chunks(
        read_jsonl_chunks(city.replay, []),
        worker_config.bootstrap,
        topic_map=feed_topics(worker_config.settings),
    )
    result = subprocess.run(
        [sys.executable, "-m", "jobs", "worker", "--until-drained", "--log-every", "1"],
        env=worker_config.env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    log = result.stderr
    assert re.search(r"last 1 s: [\d,]+ messages in, [\d,]+ alerts, [\d,]+ dead letters", log)
    summary = re.search(r"stopped after \d+ s: ([\d,]+) messages in, ([\d,]+) alerts", log)
    assert summary, log[-3000:]
    assert int(summary[1].replace(",", "")) == sent
    assert 0 < int(summary[2].replace(",", "")) <= sent
    # kafka-python and aiokafka narrate every connection at INFO: about 90 lines before
    assert "Initializing connection" not in log and "Bootstrap complete" not in log
