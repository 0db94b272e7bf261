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
