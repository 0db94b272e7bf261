"""Settings: embedded defaults, environment and TOML sources, validation, the pseudonym key."""

from __future__ import annotations

import os
import stat

import pytest
from pydantic import ValidationError

from pipeline.alerts import SOURCES
from pipeline.exceptions import ConfigurationError
from pipeline.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No HOTSPOT_* from the caller's shell, and a scratch working directory for ./var."""
    for name in list(os.environ):
        if name.startswith("HOTSPOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_run_the_embedded_mode(tmp_path):
    s = Settings()
    assert s.broker_url == "embedded"
    assert s.resolved_warehouse_url == f"chdb://{tmp_path / 'var' / 'warehouse'}"
    assert s.resolved_registry_path == s.data_dir / "registry.geojson"
    assert s.coordinate_systems == dict.fromkeys(SOURCES, "wgs84")
    assert s.topics.feeds() == {src: f"alerts.{src}" for src in SOURCES}
    assert s.area is None and s.pseudonym_key is None
    assert not (tmp_path / "var").exists()  # building settings writes nothing


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().broker_url = "kafka://x:9092"


def test_environment_overrides_defaults_including_nested(monkeypatch):
    monkeypatch.setenv("HOTSPOT_BROKER_URL", "kafka://k1:9092")
    monkeypatch.setenv("HOTSPOT_TOPICS__CAMERA", "cams")
    monkeypatch.setenv("HOTSPOT_MAX_FUTURE_S", "30")
    monkeypatch.setenv("HOTSPOT_COORDINATE_SYSTEMS", '{"camera": "gcj02"}')
    s = Settings()
    assert s.broker_url == "kafka://k1:9092"
    assert s.topics.camera == "cams" and s.topics.feed("camera") == "cams"
    assert s.topics.dispatch_110 == "alerts.dispatch_110"  # siblings keep their defaults
    assert s.max_future_s == 30.0
    assert s.coordinate_systems == {**dict.fromkeys(SOURCES, "wgs84"), "camera": "gcj02"}
    assert Settings(broker_url="kafka://kw:9092").broker_url == "kafka://kw:9092"  # kwargs win


def test_unknown_feed_in_coordinate_systems_is_rejected(monkeypatch):
    with pytest.raises(ValidationError, match="unknown feeds"):
        Settings(coordinate_systems={"camera": "gcj02", "drone": "wgs84"})
    with pytest.raises(ConfigurationError, match="unknown feeds"):
        load_settings(coordinate_systems={"drone": "gcj02"})
    with pytest.raises(ConfigurationError):
        load_settings(coordinate_systems={"camera": "utm"})
    monkeypatch.setenv("HOTSPOT_COORDINATE_SYSTEMS", '{"drone": "gcj02"}')
    with pytest.raises(ConfigurationError, match="drone"):
        load_settings()


def test_bad_values_and_unknown_fields_are_configuration_errors():
    with pytest.raises(ConfigurationError):
        load_settings(partitions=0)
    with pytest.raises(ConfigurationError):
        load_settings(no_such_setting=1)


def test_generated_pseudonym_key_is_kept_in_data_dir(tmp_path):
    data = tmp_path / "state"
    first = Settings(data_dir=data).pseudonym_secret()
    key_file = data / "pseudonym.key"
    assert key_file.exists() and len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings(data_dir=data).pseudonym_secret() == first  # a new Settings, same key
    assert Settings(data_dir=data).pseudonym_secret() == first
    assert Settings(data_dir=tmp_path / "other").pseudonym_secret() != first


def test_configured_pseudonym_key_wins_and_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTSPOT_PSEUDONYM_KEY", "k" * 24)
    s = Settings(data_dir=tmp_path / "state")
    assert s.pseudonym_secret() == b"k" * 24
    assert "k" * 24 not in repr(s)  # a SecretStr does not print
    assert not (tmp_path / "state").exists()


def test_toml_file_via_load_settings(tmp_path, monkeypatch):
    toml = tmp_path / "hotspot.toml"
    toml.write_text(
        'broker_url = "kafka://k1:9092,k2:9092"\n'
        "max_future_s = 30\n"
        "[topics]\n"
        'camera = "cams.toml"\n'
        'normalized = "norm.toml"\n'
        "[coordinate_systems]\n"
        'grid_report = "gcj02"\n'
    )
    monkeypatch.setenv("HOTSPOT_SETTINGS_FILE", "placeholder")  # restored by monkeypatch
    s = load_settings(toml)
    assert os.environ["HOTSPOT_SETTINGS_FILE"] == "placeholder", (
        "load_settings leaves the environment alone"
    )
    assert s.broker_url == "kafka://k1:9092,k2:9092" and s.max_future_s == 30.0
    assert (s.topics.camera, s.topics.normalized) == ("cams.toml", "norm.toml")
    assert s.coordinate_systems["grid_report"] == "gcj02"
    assert s.coordinate_systems["camera"] == "wgs84"
    # environment beats the file (nested keys merge), keyword overrides beat both
    monkeypatch.setenv("HOTSPOT_TOPICS__CAMERA", "cams.env")
    s = load_settings(toml, max_future_s=5)
    assert (s.topics.camera, s.topics.normalized) == ("cams.env", "norm.toml")
    assert s.max_future_s == 5.0 and s.broker_url == "kafka://k1:9092,k2:9092"


def test_toml_with_an_unknown_feed_is_rejected(tmp_path, monkeypatch):
    toml = tmp_path / "bad.toml"
    toml.write_text('[coordinate_systems]\ndrone = "gcj02"\n')
    monkeypatch.setenv("HOTSPOT_SETTINGS_FILE", "placeholder")
    with pytest.raises(ConfigurationError, match="unknown feeds"):
        load_settings(toml)


def test_missing_settings_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    assert "HOTSPOT_SETTINGS_FILE" not in os.environ


def test_a_halo_narrower_than_the_scoring_disk_is_refused():
    with pytest.raises(ValueError, match="halo_m"):
        Settings(halo_m=300.0)
    with pytest.raises(ValueError, match="half of tile_m"):
        Settings(halo_m=900.0, tile_m=1500.0)


def test_a_misspelt_variable_is_refused_with_the_setting_it_resembles(monkeypatch):
    monkeypatch.setenv("HOTSPOT_DATA_DIRR", "/tmp/x")
    with pytest.raises(
        ConfigurationError, match=r"HOTSPOT_DATA_DIRR \(did you mean HOTSPOT_DATA_DIR\?\)"
    ):
        load_settings()


def test_nested_variables_are_checked_against_the_nested_model(monkeypatch):
    monkeypatch.setenv("HOTSPOT_TOPICS__CAMERA", "cams")
    assert load_settings().topics.camera == "cams"
    monkeypatch.setenv("HOTSPOT_TOPICS__CAMRA", "cams")
    with pytest.raises(ConfigurationError, match="HOTSPOT_TOPICS__CAMRA"):
        load_settings()


def test_a_reader_never_creates_the_pseudonym_key(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(ConfigurationError, match="HOTSPOT_PSEUDONYM_KEY"):
        settings.pseudonym_secret(create=False)
    assert not (tmp_path / "data").exists()
    made = settings.pseudonym_secret()  # a worker makes it once
    assert settings.pseudonym_secret(create=False) == made


def test_the_warehouse_password_is_a_secret_shown_only_redacted():
    s = Settings(warehouse_url="clickhouse://writer:pa%40ss@ch:9000/hotspot")
    assert "pa%40ss" not in repr(s) and "pa%40ss" not in str(s.model_dump())
    assert s.resolved_warehouse_url == "clickhouse://writer:pa%40ss@ch:9000/hotspot"
    assert s.warehouse_display == "clickhouse://writer:***@ch:9000/hotspot"


def test_grafanas_clickhouse_password_is_a_secret_too(monkeypatch):
    monkeypatch.setenv("HOTSPOT_GRAFANA__CLICKHOUSE_URL", "clickhouse://reader:hunter2@ch:9000/db")
    s = load_settings()
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert s.grafana.clickhouse_url.get_secret_value().endswith("reader:hunter2@ch:9000/db")


def test_warehouse_tls_settings_reach_the_connection_url(tmp_path):
    ca = tmp_path / "ca.pem"
    s = Settings(
        warehouse_url="clickhouse://w:p@ch:9440/hotspot",
        warehouse_tls=True,
        warehouse_tls_ca_file=ca,
        warehouse_tls_verify=False,
    )
    assert s.resolved_warehouse_url == (
        f"clickhouse://w:p@ch:9440/hotspot?secure=1&verify=0&ca_certs={str(ca).replace('/', '%2F')}"
    )
    assert Settings(warehouse_tls=True).resolved_warehouse_url.startswith("chdb://")  # no TLS


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("clickhouse://w:hunter2@ch:ninethousand/db", ["w:***@ch", "Port could not be cast"]),
        ("mysql://w:hunter2@db/hotspot", ["w:***@db", "chdb:///path"]),
    ],
)
def test_a_bad_warehouse_url_is_refused_without_its_password(monkeypatch, value, words):
    monkeypatch.setenv("HOTSPOT_WAREHOUSE_URL", value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = str(refused.value)
    assert "hunter2" not in message and "HOTSPOT_WAREHOUSE_URL" in message
    assert all(w in message for w in words), message


def test_a_broker_url_with_credentials_is_refused_and_names_the_secret_setting(monkeypatch):
    monkeypatch.setenv("HOTSPOT_BROKER_URL", "kafka://ops:hunter2@k1:9092")
    with pytest.raises(ConfigurationError, match="HOTSPOT_KAFKA_SASL_PASSWORD") as refused:
        load_settings()
    assert "hunter2" not in str(refused.value)


def test_kafka_clients_get_no_options_for_plaintext_and_sasl_ssl_options_otherwise():
    import asyncio
    import ssl

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    assert Settings().kafka_client_options() == {}
    s = Settings(
        broker_url="kafka://k1:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="hotspot",
        kafka_sasl_password="s3cret",
    )
    options = s.kafka_client_options()
    assert "s3cret" not in repr(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("hotspot", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    # the worker's clients accept them as they are (constructed, not started: no broker here)

    async def construct() -> None:
        AIOKafkaConsumer(bootstrap_servers="k1:9093", **options)
        AIOKafkaProducer(bootstrap_servers="k1:9093", **options)

    asyncio.run(construct())


def test_sasl_without_its_credentials_is_refused(monkeypatch):
    monkeypatch.setenv("HOTSPOT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigurationError, match="kafka_sasl_username"):
        load_settings()


def test_a_deployed_worker_needs_a_configured_pseudonym_key():
    Settings().require_pseudonym_key()  # embedded: the data_dir's key is the installation's
    Settings(
        broker_url="kafka://k1:9092", pseudonym_key="shared-by-all-workers"
    ).require_pseudonym_key()
    with pytest.raises(ConfigurationError, match="HOTSPOT_PSEUDONYM_KEY"):
        Settings(broker_url="kafka://k1:9092").require_pseudonym_key()


def test_a_short_pseudonym_key_is_refused_by_name_without_its_value(monkeypatch):
    monkeypatch.setenv("HOTSPOT_PSEUDONYM_KEY", "short-key")
    with pytest.raises(ConfigurationError, match="HOTSPOT_PSEUDONYM_KEY.*16 bytes") as refused:
        load_settings()
    assert "short-key" not in str(refused.value)


def test_flags_merge_inside_the_routing_tiles(monkeypatch):
    """A partition owns whole tiles and merges flags inside them (issue 23, item 2): the
    correlation's merge tile follows the routing tile, and a different one is refused with
    the fix."""
    assert Settings(tile_m=6000.0).correlation.merge_tile_m == 6000.0
    assert Settings(tile_m=6000.0, correlation={"bh_q": 0.2}).correlation.merge_tile_m == 6000.0
    monkeypatch.setenv("HOTSPOT_TILE_M", "5000")
    assert load_settings().correlation.merge_tile_m == 5000.0
    with pytest.raises(ValueError, match="merge_tile_m .* must equal tile_m .* leave"):
        Settings(tile_m=6000.0, correlation={"merge_tile_m": 4000.0})
