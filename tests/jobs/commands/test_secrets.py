"""Secrets never reach the output: real ``hotspot`` processes (the worker and CLI commands)
run with a password in ``HOTSPOT_WAREHOUSE_URL``, a Kafka SASL password and a pseudonymisation
key in their environment, and neither their stdout and stderr (the log) nor the files they
write hold any of them. The worker runs at ``--log-level debug`` so the clients' own lines are
searched too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from pipeline.settings import TopicNames

pytestmark = pytest.mark.timeout(600)

PASSWORD = "Wh-pw-7f3a9c"
SASL_PASSWORD = "Sasl-pw-51e0d2"
KEY = "pseudonym-key-c0ffee-4b1d"
SECRETS = (PASSWORD, SASL_PASSWORD, KEY)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hotspot(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HOTSPOT_")}
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args],
        env={**clean, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_no_secret(result: subprocess.CompletedProcess, folder: Path | None = None) -> None:
    said = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in said, f"{secret!r} printed by {result.args[3:]}:\n{said[-3000:]}"
    for path in folder.rglob("*") if folder is not None else ():
        if path.is_file() and path.stat().st_size < 50 << 20:
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret!r} written to {path}"


def secret_env(**more: str) -> dict[str, str]:
    return {"HOTSPOT_PSEUDONYM_KEY": KEY, "HOTSPOT_KAFKA_SASL_PASSWORD": SASL_PASSWORD, **more}


def test_a_worker_run_prints_and_writes_no_secret(broker, city, tmp_path):
    """A whole ``worker --until-drained`` run on the session's broker (its own topics, which
    it creates with the configured replication factor) and the embedded warehouse."""
    tag = uuid.uuid4().hex[:8]
    topics = {name: f"{tag}.{topic}" for name, topic in TopicNames().model_dump().items()}
    data = tmp_path / "data"
    env = secret_env(
        HOTSPOT_DATA_DIR=str(data),
        HOTSPOT_BROKER_URL=f"kafka://{broker.bootstrap}",
        HOTSPOT_REGISTRY_PATH=str(city.registry),
        HOTSPOT_APP_ID=f"secrets-{tag}",
        HOTSPOT_TOPICS=json.dumps(topics),
        HOTSPOT_PARTITIONS="2",
        HOTSPOT_REPLICATION_FACTOR="2",
    )
    result = hotspot("worker", "--until-drained", "--log-level", "debug", env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "warehouse chdb://" in result.stdout  # the start-up line names the warehouse
    assert_no_secret(result, data)

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        described = admin.describe_topics(list(topics.values()))
    finally:
        admin.close()
    replicas = {len(p["replica_nodes"]) for d in described for p in d["partitions"]}
    assert replicas == {2}, "topics must be created with HOTSPOT_REPLICATION_FACTOR"


def test_a_warehouse_password_is_never_printed_by_the_worker_or_the_cli(
    clickhouse_server, tmp_path
):
    """The real clickhouse-server refuses the password (its ``default`` user has none), a
    closed port refuses the connection: both failures name the server, neither its password."""
    refusing = clickhouse_server.url("secrets").replace("default@", f"default:{PASSWORD}@")
    closed = f"clickhouse://writer:{PASSWORD}@127.0.0.1:{_closed_port()}/hotspot"
    runs = [
        ("migrate",),
        ("top", "--once"),
        ("export", "flags", "--since", "2026-11-24", "--until", "2026-11-25"),
        ("baseline", "fit", "--since", "2026-11-24", "--until", "2026-11-25"),
    ]
    for url in (refusing, closed):
        for args in runs:
            env = secret_env(HOTSPOT_WAREHOUSE_URL=url, HOTSPOT_DATA_DIR=str(tmp_path / "d"))
            result = hotspot(*args, env=env)
            assert result.returncode != 0, result.stdout
            assert "Traceback" not in result.stderr, result.stderr[-3000:]
            assert_no_secret(result)
    # the worker, on the embedded broker, against the server that refuses the password
    env = secret_env(
        HOTSPOT_WAREHOUSE_URL=refusing,
        HOTSPOT_DATA_DIR=str(tmp_path / "w"),
        HOTSPOT_WAREHOUSE_RETRY_REJECTED_ATTEMPTS="1",
    )
    result = hotspot("worker", "--until-drained", "--log-level", "debug", env=env)
    assert result.returncode != 0
    assert "127.0.0.1" in result.stderr  # the failure names the server it could not use
    assert_no_secret(result, tmp_path / "w")


def test_a_settings_error_names_a_secret_setting_without_its_value(tmp_path):
    env = secret_env(
        HOTSPOT_WAREHOUSE_URL=f"clickhouse://w:{PASSWORD}@host:port/db",
        HOTSPOT_DATA_DIR=str(tmp_path),
    )
    result = hotspot("migrate", env=env)
    assert result.returncode == 2
    assert "HOTSPOT_WAREHOUSE_URL" in result.stderr and "w:***@host" in result.stderr
    assert_no_secret(result)


def test_migrate_prints_neither_the_admin_nor_the_grafana_passwords(tmp_path):
    """`hotspot migrate` holds the admin's URL and the readers' passwords (compose's migrate
    service): an unreachable admin connection names the server, none of them."""
    closed = f"clickhouse://hotspot_admin:{PASSWORD}@127.0.0.1:{_closed_port()}/hotspot"
    env = secret_env(
        HOTSPOT_WAREHOUSE_URL=f"clickhouse://hotspot_writer:{SASL_PASSWORD}@127.0.0.1:1/hotspot",
        HOTSPOT_WAREHOUSE_ADMIN_URL=closed,
        HOTSPOT_WAREHOUSE_ACCESS__READER_PASSWORD=KEY,
        HOTSPOT_WAREHOUSE_ACCESS__DISTRICT_PASSWORDS=json.dumps({"110101": KEY}),
        HOTSPOT_DATA_DIR=str(tmp_path),
    )
    result = hotspot("migrate", env=env)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "127.0.0.1" in result.stderr
    assert_no_secret(result)
