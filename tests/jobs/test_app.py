"""The worker's web frame, as an operator meets it: a real worker process on the test broker,
its ``/metrics`` read over HTTP and its listening socket read from ``/proc/net``."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.kafka import free_port, send_chunks
from pipeline.replay import read_jsonl_chunks
from tests.conftest import feed_topics

pytestmark = pytest.mark.timeout(300)


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel writes them) of the TCP sockets listening on
    ``port``, IPv4 and IPv6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def scrape(port: int) -> dict[str, list]:
    """Metric family name -> its samples, from the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def drained(metrics: dict[str, list], input_partitions: int) -> bool:
    """Every input partition reported, none lagging, and alerts normalised."""
    lag = [s for s in metrics.get("hotspot_consumer_lag", []) if s.name == "hotspot_consumer_lag"]
    normalized = sum(s.value for s in metrics.get("hotspot_normalized", []))
    return len(lag) == input_partitions and all(s.value == 0 for s in lag) and normalized > 0


@pytest.fixture
def running_worker(worker_config):
    """``hotspot worker`` (no --until-drained) with a known web port; SIGTERM at the end."""
    port = free_port()
    # small polls: the drain takes long enough for a scrape to see the backlog
    env = {**worker_config.env(), "HOTSPOT_WEB_PORT": str(port), "HOTSPOT_BATCH_MAX": "100"}
    env.pop("HOTSPOT_WEB_HOST", None)  # the default is what is tested
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "worker", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(process, port: int, ready, seen: list | None = None, deadline_s: float = 180):
    """Scrape until ``ready(metrics)``, appending each scrape to ``seen``; fail with the
    worker's log if it dies or times out."""
    deadline = time.monotonic() + deadline_s
    metrics: dict[str, list] = {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"worker exited {process.returncode}:\n{process.stderr.read()[-4000:]}")
        try:
            metrics = scrape(port)
        except OSError:  # not serving yet
            metrics = {}
        if metrics and seen is not None:
            seen.append(metrics)
        if metrics and ready(metrics):
            return metrics
        time.sleep(0.2)
    pytest.fail(f"the worker's metrics never showed the run drained: {sorted(metrics)}")


def lag_by_partition(metrics: dict[str, list]) -> dict[tuple[str, str], float]:
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for s in metrics.get("hotspot_consumer_lag", [])
    }


def test_the_web_port_listens_on_loopback_only_and_metrics_show_each_partition(
    worker_config, city, running_worker
):
    process, port = running_worker
    settings = worker_config.settings
    feeds = list(feed_topics(settings).values())
    # up, holding its partitions and idle: every feed partition reported, none lagging
    idle = wait_for(process, port, lambda m: {t for t, _ in lag_by_partition(m)} >= set(feeds))
    assert set(lag_by_partition(idle).values()) == {0}
    sent = send_chunks(
        read_jsonl_chunks(city.replay, []), worker_config.bootstrap, topic_map=feed_topics(settings)
    )
    assert sent == city.records
    # every topic the worker reads: four feeds, hotspots.acks, alerts.normalized and the four
    # sink topics (dead letters, incidents, flags, notices)
    inputs = 10 * settings.partitions
    scrapes: list = []
    metrics = wait_for(process, port, lambda m: drained(m, inputs), scrapes)
    # On the way, the feeds' backlog showed as lag, never more than was sent.
    feed_lag = [sum(v for (t, _), v in lag_by_partition(m).items() if t in feeds) for m in scrapes]
    assert 0 < max(feed_lag) <= sent

    # Loopback only: 0100007F is 127.0.0.1 as /proc/net/tcp writes it (an all-interfaces
    # bind would read 00000000, or an IPv6 address in tcp6).
    assert listening_addresses(port) == {"0100007F"}

    lag = {(s.labels["topic"], s.labels["partition"]) for s in metrics["hotspot_consumer_lag"]}
    assert {t for t, _ in lag} == set(settings.topics.consumed())
    assert {p for _, p in lag} == {str(p) for p in range(settings.partitions)}

    # The city is yesterday's: each correlator's watermark is hours to a day and a half behind.
    watermark_lag = {
        s.labels["partition"]: s.value for s in metrics["hotspot_watermark_lag_seconds"]
    }
    assert set(watermark_lag) == {str(p) for p in range(settings.partitions)}
    assert all(3600 < v < 2 * 86400 and math.isfinite(v) for v in watermark_lag.values())
    open_flags = {s.labels["partition"]: s.value for s in metrics["hotspot_open_flags"]}
    assert set(open_flags) == set(watermark_lag)
    assert all(v >= 0 and v == int(v) for v in open_flags.values())
    retries = {
        (s.labels["operation"], s.labels["table"]): s.value
        for s in metrics["hotspot_warehouse_retries"]
        if s.name == "hotspot_warehouse_retries_total"
    }
    # one insert series per table written (a city of yesterday, read to its end with idle
    # marks at 60 s, may have closed no window yet: then no flag or incident was written)
    written = {
        s.labels["table"]
        for s in metrics["hotspot_warehouse_rows"]
        if s.name == "hotspot_warehouse_rows_total" and s.value > 0
    }
    assert {"alerts", "deadletters"} <= written
    tables = {("insert", t) for t in written}
    assert set(retries) == {("connection", ""), ("migration", ""), *tables}
    assert set(retries.values()) == {0}, "chDB answers at once: nothing was retried"

    # Each partition was taken over once, with no checkpoint written yet.
    restores = {
        s.labels["outcome"]: s.value
        for s in metrics["hotspot_correlator_restores"]
        if s.name == "hotspot_correlator_restores_total"
    }
    assert restores == {"empty": settings.partitions}

    # Scraped again later, an idle partition's watermark lag has grown with the wall clock.
    time.sleep(1.5)
    later = {s.labels["partition"]: s.value for s in scrape(port)["hotspot_watermark_lag_seconds"]}
    assert all(later[p] >= watermark_lag[p] + 1 for p in watermark_lag)
