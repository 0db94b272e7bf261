"""Every Kafka client goes through :class:`pipeline.kafka.clients.Brokers`, so the settings'
SASL and TLS options reach the worker's clients and the CLI's (replay, ack, ``top
--bootstrap``, the committed-offsets and read-back clients) alike."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from jobs.commands.options import kafka_brokers
from pipeline.kafka.clients import Brokers
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaClient", "KafkaConsumer"}
CLIENTS |= {"KafkaProducer", "KafkaAdminClient", "KafkaClient", "AIOKafkaAdminClient"}
SASL_PASSWORD = "sasl-pw-9d1e77"
SASL = {
    "HOTSPOT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "HOTSPOT_KAFKA_SASL_USERNAME": "hotspot",
    "HOTSPOT_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
}


def sasl_settings() -> Settings:
    return Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="hotspot",
        kafka_sasl_password=SecretStr(SASL_PASSWORD),
    )


def test_no_module_constructs_a_kafka_client_but_the_helper():
    """A client made elsewhere would connect without the cluster's SASL and TLS options."""
    found = []
    for folder in ("pipeline", "jobs", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "pipeline" / "kafka" / "clients.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    if name in CLIENTS:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert found == []


def test_the_clients_carry_the_settings_security():
    brokers = Brokers.from_settings(sasl_settings(), "kafka-1:9092")
    assert str(brokers) == "kafka-1:9092" and SASL_PASSWORD not in repr(brokers)

    async def made():
        consumer = brokers.consumer(enable_auto_commit=False)
        producer = brokers.producer(acks="all")
        return consumer._client, producer.client

    for client in asyncio.run(made()):
        assert client._security_protocol == "SASL_PLAINTEXT"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "hotspot"
        assert client._sasl_plain_password == SASL_PASSWORD
        assert client._bootstrap_servers == "kafka-1:9092"


def test_a_command_s_bootstrap_gets_the_settings_security():
    settings = sasl_settings()
    given = kafka_brokers(settings, "kafka-2:9093")
    assert (given.bootstrap, given.security) == ("kafka-2:9093", settings.kafka_client_options())
    cluster = kafka_brokers(settings.model_copy(update={"broker_url": "kafka://k:1"}), None)
    assert cluster.bootstrap == "k:1" and cluster.security["security_protocol"] == "SASL_PLAINTEXT"


def hotspot(*args: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HOTSPOT_")}
    env = {**clean, "HOTSPOT_DATA_DIR": str(tmp_path), "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "jobs", *args], env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize(
    "args",
    [
        ("ack", "ntc-0-3fa2c1d4e5f60718", "--unit", "u-1", "--action", "received"),
        ("top", "--once"),
    ],
    ids=["ack", "top"],
)
def test_the_cli_s_clients_speak_sasl_when_the_settings_say_so(broker, tmp_path, args):
    """The real Tansu broker speaks plaintext: told to use SASL, the command's client tries a
    SASL handshake and cannot bootstrap, which shows the setting reached it; the message says
    what to check and does not hold the SASL password."""
    result = hotspot(*args, "--bootstrap", broker.bootstrap, env=SASL, tmp_path=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "cannot reach Kafka" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and SASL_PASSWORD not in result.stderr
    if args[0] == "ack":  # the control: the same command in plaintext is sent
        plain = hotspot(*args, "--bootstrap", broker.bootstrap, env={}, tmp_path=tmp_path)
        assert plain.returncode == 0, plain.stderr[-2000:]
        assert "sent to" in plain.stdout
