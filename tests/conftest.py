"""Shared fixtures: a real Tansu broker, a small simulated city, workers as real processes.

Every test that talks to Kafka gets its own topic names and consumer group, so tests sharing
the session's broker never see each other's messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.alerts import SOURCES
from pipeline.kafka import EmbeddedBroker, ensure_topics
from pipeline.settings import Settings, TopicNames

PSEUDONYM_KEY = "test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> EmbeddedBroker:
    """One Tansu process for the session, on a free loopback port."""
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_file=log) as running:
        yield running


@pytest.fixture(scope="session")
def city(tmp_path_factory):
    """A simulated city (registry, three hours of all four feeds, ground truth).

    Yesterday 09:00-12:00 Shanghai time: recent enough to pass the staleness check, and in
    daytime whenever the tests run, so every feed (grid reports are daytime) has messages.
    """
    from pipeline.sim import run_simulation

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    start = datetime(yesterday.year, yesterday.month, yesterday.day, 1, tzinfo=UTC)
    return run_simulation(
        tmp_path_factory.mktemp("city"),
        seed=11,
        start=start,
        duration=timedelta(hours=3),
        scale=0.3,
        n_hotspots=1,
    )


@dataclass
class WorkerConfig:
    """Settings for one test's worker: unique topics and group, its own data directory."""

    settings: Settings
    bootstrap: str

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "HOTSPOT_DATA_DIR": str(s.data_dir),
            "HOTSPOT_BROKER_URL": f"kafka://{self.bootstrap}",
            "HOTSPOT_REGISTRY_PATH": str(s.registry_path),
            "HOTSPOT_APP_ID": s.app_id,
            "HOTSPOT_TOPICS": json.dumps(s.topics.model_dump()),
            "HOTSPOT_PARTITIONS": str(s.partitions),
            "HOTSPOT_PSEUDONYM_KEY": PSEUDONYM_KEY,
        }

    def run_worker(self, timeout_s: float = 240) -> subprocess.CompletedProcess:
        """``hotspot worker --until-drained`` as a separate process; fails the test on error."""
        result = subprocess.run(
            [sys.executable, "-m", "jobs", "worker", "--until-drained", "--log-level", "warning"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if result.returncode != 0:
            pytest.fail(f"worker exited {result.returncode}:\n{result.stderr[-4000:]}")
        return result


@pytest.fixture
def worker_config(tmp_path, broker, city) -> WorkerConfig:
    return new_worker_config(tmp_path, broker, city)


def new_worker_config(tmp_path, broker, city) -> WorkerConfig:
    """Settings for a worker with topics, group and data directory of its own."""
    tag = uuid.uuid4().hex[:8]
    names = TopicNames().model_dump()
    topics = TopicNames(**{name: f"{tag}.{topic}" for name, topic in names.items()})
    settings = Settings(
        data_dir=tmp_path / f"data-{tag}",
        broker_url=f"kafka://{broker.bootstrap}",
        registry_path=city.registry,
        app_id=f"test-{tag}",
        topics=topics,
        partitions=2,
        pseudonym_key=PSEUDONYM_KEY,
    )
    ensure_topics(
        broker.bootstrap, topics.all(), settings.partitions, compacted={topics.checkpoints}
    )
    return WorkerConfig(settings, broker.bootstrap)


def feed_topics(settings: Settings) -> dict[str, str]:
    return {f"alerts.{source}": settings.topics.feed(source) for source in SOURCES}


@pytest.fixture
def located(worker_config):
    """A point inside the test city and a grid code of its registry."""
    from pipeline.geo.admin_units import load_registry

    registry = load_registry(worker_config.settings.registry_path)
    return (
        float(registry.grid_centroid_lat[0]),
        float(registry.grid_centroid_lon[0]),
        str(registry.grids.codes[0]),
    )


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory):
    """One real clickhouse-server (Debian's 18.16 in CI) for the session, on free loopback ports.

    ``make test`` installs it (infra/ci/install-clickhouse-server.sh); without it, and without
    root to install it, the tests that need it skip. Killed with its process group at the end.
    """
    from tests.clickhouse_server import CONFIG, ClickHouseServer, find_binary

    binary = find_binary()
    if binary is None or not CONFIG.exists():
        pytest.skip(
            "clickhouse-server is not installed and cannot be here (needs root): run "
            "`sudo sh infra/ci/install-clickhouse-server.sh`"
        )
    server = ClickHouseServer(binary, tmp_path_factory.mktemp("clickhouse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def backfilled_city(tmp_path_factory, city):
    """Settings of a warehouse holding the test city, backfilled in process without a final
    flush (so some flags are still open). chDB opens one directory per process at a time:
    open it with ``open_warehouse(settings.resolved_warehouse_url)`` and close it again."""
    from pipeline.backfill.files import backfill_files
    from pipeline.geo.admin_units import load_registry
    from pipeline.warehouse import migrate, open_warehouse

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("backfilled"),
        registry_path=city.registry,
        pseudonym_key=PSEUDONYM_KEY,
        partitions=2,
    )
    with open_warehouse(settings.resolved_warehouse_url) as warehouse:
        migrate(warehouse)
        backfill_files(
            settings, load_registry(city.registry), warehouse, [city.replay], flush=False
        )
    return settings
