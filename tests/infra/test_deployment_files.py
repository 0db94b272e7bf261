"""The deployment in ``infra/`` (compose, Dockerfile, Prometheus, example settings) tied to the
code it runs. No Docker engine runs here, so the files are parsed, not started: each test
checks a link a typo would break (a setting that does not exist, a scrape port the workers do
not listen on, a dashboards folder Grafana would find empty).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from jobs.commands import COMMANDS
from pipeline.settings import Settings, TopicNames, _unknown, load_settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

#: example values for the secrets compose interpolates from infra/.env
EXAMPLE_ENV = {
    "CLICKHOUSE_PASSWORD": "pa%40ss",
    "CLICKHOUSE_WRITER_PASSWORD": "wr%40iter",
    "CLICKHOUSE_GRAFANA_PASSWORD": "gr@fana",
    "CLICKHOUSE_DISTRICT_PASSWORDS": '{"110101": "d1strict"}',
    "HOTSPOT_PSEUDONYM_KEY": "00" * 32,
    "GRAFANA_ADMIN_PASSWORD": "admin-pass",
    "HOTSPOT_WORKERS": "3",
    "HOTSPOT_REGISTRY_FILE": "./registry.geojson",
}
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def interpolate(value) -> str:
    """``${NAME:?msg}`` / ``${NAME:-default}`` as compose fills them from infra/.env."""
    return _INTERPOLATION.sub(lambda m: EXAMPLE_ENV[m.group(1)], str(value))


def environment(service: dict) -> dict[str, str]:
    return {k: interpolate(v) for k, v in (service.get("environment") or {}).items()}


def mounts(service: dict, base: Path) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (relative to ``base``)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = interpolate(volume).split(":")[:2]
        if source.startswith((".", "/")):
            out[target] = (base / source).resolve()
    return out


def test_compose_runs_kafka_in_kraft_mode_clickhouse_grafana_prometheus_and_workers(compose):
    services = compose["services"]
    assert {"kafka", "clickhouse", "grafana", "prometheus", "worker", "migrate"} <= set(services)
    kafka = environment(services["kafka"])
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(kafka)
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    for name, service in services.items():
        if "image" in service and "build" not in service:
            tag = service["image"].rpartition(":")[2]
            assert tag and tag != "latest", f"{name} must pin its image, got {service['image']}"


def test_workers_are_replicas_of_the_image_built_from_the_repository(compose):
    worker = compose["services"]["worker"]
    assert interpolate(worker["deploy"]["replicas"]) == EXAMPLE_ENV["HOTSPOT_WORKERS"]
    build = worker["build"]
    assert (INFRA / build["context"] / build["dockerfile"]).resolve() == INFRA / "Dockerfile"
    assert (INFRA / build["context"]).resolve() == ROOT


def test_every_command_compose_runs_is_a_hotspot_command(compose):
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["hotspot"\]', dockerfile, re.M)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "hotspot" in scripts
    for name in ("migrate", "worker"):
        assert compose["services"][name]["command"][0] in COMMANDS


def test_workers_wait_for_the_migration_to_succeed(compose):
    depends = compose["services"]["worker"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["restart"] == "no"


@pytest.mark.parametrize("service", ["migrate", "worker"])
def test_every_hotspot_variable_in_compose_is_a_setting(compose, service):
    env = environment(compose["services"][service])
    names = [n for n in env if n.startswith("HOTSPOT_")]
    assert names, f"{service} sets no HOTSPOT_ variable"
    assert [n for n in names if _unknown(n)] == []


@pytest.mark.parametrize("service", ["migrate", "worker"])
def test_a_service_s_environment_and_mounted_settings_file_load_as_settings(
    compose, service, monkeypatch
):
    """What a container's ``load_settings()`` sees: compose's environment, with its
    HOTSPOT_SETTINGS_FILE resolved to the file mounted there (the example, as infra/.env's
    copy instructions say)."""
    svc = compose["services"][service]
    env = environment(svc)
    mounted = mounts(svc, INFRA)
    settings_in_container = env.pop("HOTSPOT_SETTINGS_FILE")
    assert mounted[settings_in_container] == INFRA / "hotspot.toml"
    for name in [n for n in os.environ if n.startswith("HOTSPOT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(INFRA / "hotspot.example.toml")
    assert settings.broker_url == "kafka://kafka:9092"
    # the workers connect as the writer; only `migrate` has the admin and creates the users
    assert settings.resolved_warehouse_url.startswith("clickhouse://hotspot_writer:")
    if service == "migrate":
        assert settings.resolved_admin_warehouse_url.startswith("clickhouse://hotspot_admin:")
        assert settings.warehouse_access.reader_password.get_secret_value() == "gr@fana"
        assert list(settings.warehouse_access.district_passwords) == ["110101"]
    else:
        assert not settings.warehouse_admin_url.get_secret_value()
    assert settings.pseudonym_key is not None
    assert str(settings.registry_path) in mounted
    if service == "worker":
        assert settings.web_host == "0.0.0.0"
        assert settings.web_port == 6066


def test_the_example_settings_name_every_topic_as_topic_names_does():
    example = tomllib.loads((INFRA / "hotspot.example.toml").read_text())
    assert example["topics"] == TopicNames().model_dump()
    assert set(example) <= set(Settings.model_fields)


def test_prometheus_scrapes_every_worker_where_it_serves_metrics(compose):
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    prometheus = compose["services"]["prometheus"]
    assert mounts(prometheus, INFRA)["/etc/prometheus/prometheus.yml"] == (
        INFRA / "prometheus" / "prometheus.yml"
    )
    worker_env = environment(compose["services"]["worker"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "hotspot-worker"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["port"] == int(worker_env["HOTSPOT_WEB_PORT"])
    assert worker_env["HOTSPOT_WEB_HOST"] == "0.0.0.0"  # loopback would refuse the scrape
    assert job["metrics_path"] == "/metrics"
    assert '@app.page("/metrics")' in (ROOT / "jobs" / "app.py").read_text()


def test_grafana_has_the_plugin_and_its_provisioning_finds_the_dashboards(compose):
    grafana = compose["services"]["grafana"]
    env = environment(grafana)
    assert "grafana-clickhouse-datasource" in env["GF_PLUGINS_PREINSTALL"]
    mounted = mounts(grafana, INFRA)
    provisioning = mounted["/etc/grafana/provisioning"]
    assert provisioning == INFRA / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "hotspot.yaml").read_text())[
        "datasources"
    ]
    assert [s["type"] for s in sources] == ["grafana-clickhouse-datasource", "prometheus"]
    # every ${VAR} the data sources read is in Grafana's environment
    wanted = set(re.findall(r"\$\{(\w+)\}", json.dumps(sources)))
    assert wanted and wanted <= set(env), wanted - set(env)
    # Prometheus is reached where compose runs it
    prometheus = env["PROMETHEUS_URL"]
    assert prometheus.split("//")[1].split(":")[0] in compose["services"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "hotspot.yaml").read_text())[
        "providers"
    ]
    folder = mounted[provider["options"]["path"]]
    assert folder == ROOT / "dashboards"
    uids = {json.loads(p.read_text())["uid"] for p in folder.glob("*.json")}
    assert len(uids) >= 5
    used = {
        t["datasource"]["uid"]
        for p in folder.glob("*.json")
        for panel in json.loads(p.read_text())["panels"]
        for t in panel.get("targets", [])
        if isinstance(t.get("datasource"), dict)
    }
    assert used == {s["uid"] for s in sources}


def test_the_dockerfile_pins_its_base_runs_as_a_user_and_installs_the_repository():
    text = (INFRA / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert "@sha256:" in base or re.search(r":\d+\.\d+\.\d+", base), base
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^RUN pip install (-e )?/src$", text, re.M)
    copied = set(re.findall(r"^COPY (\S+) ", text, re.M))
    # the package reads its SQL migrations, wire schemas and dashboards beside its source
    assert {"pipeline", "jobs", "schemas", "dashboards", "pyproject.toml"} <= copied


def test_the_example_env_file_gives_every_variable_compose_requires(compose):
    lines = (INFRA / "compose.yaml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    given = {
        line.partition("=")[0]
        for line in (INFRA / "example.env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert required and required <= given, required - given


def test_each_service_connects_as_the_clickhouse_user_its_work_needs(compose):
    """The admin (the server's CLICKHOUSE_USER) only in `migrate`; the workers as the writer
    `migrate` creates; Grafana as the reader it creates, under the read-only profile whose
    CHANGEABLE_IN_READONLY constraint needs the mounted server config."""
    services = compose["services"]
    admin = environment(services["clickhouse"])["CLICKHOUSE_USER"]
    migrate_env = environment(services["migrate"])
    assert migrate_env["HOTSPOT_WAREHOUSE_ADMIN_URL"].startswith(f"clickhouse://{admin}:")
    for name, service in services.items():
        if name != "migrate":
            assert f"://{admin}:" not in json.dumps(environment(service)), name
    worker_env = environment(services["worker"])
    assert worker_env["HOTSPOT_WAREHOUSE_URL"].startswith("clickhouse://hotspot_writer:")
    grafana_env = environment(services["grafana"])
    assert grafana_env["CLICKHOUSE_USER"] == Settings().warehouse_access.reader_user
    assert grafana_env["CLICKHOUSE_PASSWORD"] == EXAMPLE_ENV["CLICKHOUSE_GRAFANA_PASSWORD"]
    assert services["grafana"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    config = mounts(services["clickhouse"], INFRA)["/etc/clickhouse-server/config.d/access.xml"]
    assert "<settings_constraints_replace_previous>true<" in config.read_text()
    roles = (ROOT / "schemas" / "clickhouse" / "access" / "10_roles.sql").read_text()
    assert "CHANGEABLE_IN_READONLY" in roles
