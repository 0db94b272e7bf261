"""The one settings object. Nothing else in the project reads the environment.

Values come, highest priority first, from keyword arguments, environment variables
(``HOTSPOT_<FIELD>``, nested with ``__``: ``HOTSPOT_TOPICS__CAMERA=cams``), a TOML file named
by ``HOTSPOT_SETTINGS_FILE`` (or passed to :func:`load_settings`), and the defaults below, which
run the embedded mode: a Tansu broker on loopback and chDB under ``./var``.

>>> s = Settings()
>>> s.broker_url, s.resolved_warehouse_url.startswith("chdb://")
('embedded', True)
"""

from __future__ import annotations

import math
import os
import secrets
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .alerts import SOURCE_CATEGORIES, SOURCES
from .correlate.params import CorrelationParams
from .exceptions import ConfigurationError
from .redact import redact_url

__all__ = [
    "Settings",
    "TopicNames",
    "Area",
    "GrafanaSettings",
    "RatingThresholds",
    "Retention",
    "TrendSettings",
    "WarehouseAccess",
    "load_settings",
]

CoordinateSystem = Literal["wgs84", "gcj02"]


class TopicNames(BaseModel):
    """Kafka topic names. Input feeds are keyed by feed name (see ``pipeline.alerts.SOURCES``)."""

    model_config = ConfigDict(frozen=True)

    alarm_phone: str = "alerts.alarm_phone"
    dispatch_110: str = "alerts.dispatch_110"
    camera: str = "alerts.camera"
    grid_report: str = "alerts.grid_report"
    normalized: str = "alerts.normalized"
    deadletter: str = "alerts.deadletter"
    incidents: str = "incidents.correlated"
    flags: str = "hotspots.flags"
    checkpoints: str = "correlator.checkpoints"
    notices: str = "hotspots.notices"
    acks: str = "hotspots.acks"

    def feed(self, source: str) -> str:
        return getattr(self, source)

    def feeds(self) -> dict[str, str]:
        """Input topic per feed name."""
        return {source: self.feed(source) for source in SOURCES}

    def all(self) -> list[str]:
        return list(self.model_dump().values())

    def consumed(self) -> list[str]:
        """The topics the worker group reads and commits: all but the checkpoints (read by
        restores with a consumer of their own). Notices are read too, into the warehouse."""
        return [t for t in self.all() if t != self.checkpoints]


class Area(BaseModel):
    """WGS84 bounding box alerts must fall in; anything outside is dead-lettered."""

    model_config = ConfigDict(frozen=True)

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    def contains(self, lat, lon):  # NumPy arrays in, boolean array out
        return (
            (lat >= self.min_lat)
            & (lat <= self.max_lat)
            & (lon >= self.min_lon)
            & (lon <= self.max_lon)
        )


class GrafanaSettings(BaseModel):
    """Where ``hotspot dashboards push`` publishes the data source and the dashboards."""

    model_config = ConfigDict(frozen=True)

    url: str = Field("", description="Grafana base URL, e.g. 'http://grafana:3000'.")
    token: SecretStr | None = Field(
        None, description="Service-account token (Editor or Admin): HOTSPOT_GRAFANA__TOKEN."
    )
    folder: str = Field("Hotspot", description="Folder the dashboards go to.")
    clickhouse_url: SecretStr = Field(
        SecretStr(""),
        description="ClickHouse as Grafana reaches it, 'clickhouse://user:pass@host:9000/db'. "
        "Empty: warehouse_url (which must then be a clickhouse:// URL, not chdb). A secret "
        "(it holds the password), like warehouse_url.",
    )
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout per request, seconds.")


class WarehouseAccess(BaseModel):
    """The ClickHouse users ``hotspot migrate`` creates for Grafana, besides the worker's writer
    (the user of ``warehouse_url``); ``pipeline.warehouse.access``, README "Production"."""

    model_config = ConfigDict(frozen=True)

    reader_user: str = Field(
        "hotspot_grafana",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Read-only user of the command centre's Grafana: every row.",
    )
    reader_password: SecretStr | None = Field(
        None,
        description="Its password: HOTSPOT_WAREHOUSE_ACCESS__READER_PASSWORD. Empty: the "
        "reader is not created.",
    )
    district_passwords: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="District code -> password of that district's read-only user "
        "(hotspot_district_<code>), which sees only its district's rows: "
        'HOTSPOT_WAREHOUSE_ACCESS__DISTRICT_PASSWORDS=\'{"110101": "..."}\'.',
    )
    max_execution_time_s: int = Field(
        60, ge=1, description="Longest a Grafana query runs, s (the readers may lower it)."
    )

    @field_validator("district_passwords")
    @classmethod
    def _codes_are_plain(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # codes go into user names and SQL string literals: letters, digits, '_' and '-' only
        bad = [
            code for code in value if not code or not all(c.isalnum() or c in "_-" for c in code)
        ]
        if bad:
            raise ValueError(f"district codes {bad} may hold only letters, digits, '_' and '-'")
        return value


class RatingThresholds(BaseModel):
    """Monthly three-colour rating of residential compounds from property-crime alerts.

    A compound is ``red`` with at least ``red_at`` counted alerts in a calendar month (local
    time, ``utc_offset_min``), ``yellow`` with at least ``yellow_at``, else ``green``.
    """

    model_config = ConfigDict(frozen=True)

    categories: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "dispatch_110": ("theft", "burglary", "robbery", "fraud"),
            "alarm_phone": ("intrusion",),
        },
        description="Property-crime categories counted, per feed. Camera analytics are left "
        "out by default: their intrusion alerts are too noisy to rate a compound.",
    )
    # Defaults from the synthetic city at scale 1 (two simulated days, times 15): a compound's
    # monthly count has median ~15, 75th percentile ~30, 95th ~75; so about a quarter of
    # compounds are yellow or red and one in ten to fifteen red. Calibrate on real history.
    yellow_at: int = Field(30, ge=1, description="Alerts in a month that make a compound yellow.")
    red_at: int = Field(60, ge=1, description="Alerts in a month that make a compound red.")
    utc_offset_min: int = Field(480, description="Local time of calendar months, minutes.")

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for feed, cats in value.items():
            if feed not in SOURCE_CATEGORIES:
                raise ValueError(f"unknown feed {feed!r}; feeds are {list(SOURCE_CATEGORIES)}")
            unknown = set(cats) - set(SOURCE_CATEGORIES[feed])
            if unknown:
                raise ValueError(
                    f"{feed} has no categories {sorted(unknown)}; it has "
                    f"{list(SOURCE_CATEGORIES[feed])}"
                )
        if not any(value.values()):
            raise ValueError("ratings need at least one counted category")
        return value

    @model_validator(mode="after")
    def _red_above_yellow(self) -> RatingThresholds:
        if self.red_at <= self.yellow_at:
            raise ValueError(
                f"ratings.red_at ({self.red_at}) must be above ratings.yellow_at ({self.yellow_at})"
            )
        return self


class TrendSettings(BaseModel):
    """Emerging hot-spot trends of grid cells (`hotspot trends`, pipeline/trends): the rules
    and their thresholds are in :mod:`pipeline.trends.patterns`."""

    model_config = ConfigDict(frozen=True)

    sources: tuple[str, ...] = Field(
        ("alarm_phone", "dispatch_110"),
        description="Feeds whose alerts are counted. Camera analytics and grid reports are left "
        "out by default: their volume (cameras: up to millions a day) would drown the calls.",
    )
    step_minutes: int = Field(
        1440, ge=15, description="Length of one time step, minutes (default one day)."
    )
    steps: int = Field(
        28,
        ge=4,
        le=400,
        description="Time steps analysed for each classified day, ending with it (default four "
        "weeks of days). ArcGIS asks for at least ten.",
    )
    min_steps: int = Field(
        10,
        ge=4,
        description="Fewest time steps of stored history a classification needs (Mann-Kendall "
        "has no power below a handful; ArcGIS's cube needs ten).",
    )
    alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="False discovery rate of the hot/cold test of each time step "
        "(Benjamini-Hochberg over all grid cells of the step).",
    )
    trend_alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level of the Mann-Kendall trend test."
    )
    share: float = Field(
        0.9,
        gt=0.5,
        le=1,
        description="Share of time steps that makes a cell persistently hot or cold "
        "(ArcGIS: 90 percent).",
    )
    neighbour_m: float = Field(
        0.0,
        ge=0,
        description="Gi* neighbours: grid cells whose centres lie within this distance, m. "
        "0: 1.5 times the median cell edge (the eight cells around a square cell).",
    )
    utc_offset_min: int = Field(480, description="Local time of days, minutes east of UTC.")

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(SOURCES))
        if unknown or not value:
            raise ValueError(f"trends.sources must name feeds among {list(SOURCES)}; got {unknown}")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _enough_steps(self) -> TrendSettings:
        if self.steps < self.min_steps:
            raise ValueError(
                f"trends.steps ({self.steps}) is below trends.min_steps ({self.min_steps}): "
                "raise steps or lower min_steps"
            )
        return self


class Retention(BaseModel):
    """How long the warehouse keeps each kind of row, days (0: for ever). Applied as the tables'
    TTLs each time a worker starts or a backfill runs (``pipeline.warehouse.retention``);
    ClickHouse then drops the expired rows in its merges."""

    model_config = ConfigDict(frozen=True)

    alerts: int = Field(400, ge=0, description="Alerts, by event time (HOTSPOT_RETENTION__ALERTS).")
    rollups: int = Field(
        730, ge=0, description="Per-minute cell and per-hour unit counts, by their minute or hour."
    )
    deadletters: int = Field(90, ge=0, description="Dead letters, by the time they were received.")
    incidents: int = Field(0, ge=0, description="Incidents, by their last alert's event time.")
    flags: int = Field(0, ge=0, description="Flag versions, by their boundary's event time.")
    notices: int = Field(
        400,
        ge=0,
        description="Notice events (issued, acks, reminders, escalations), by their event time: "
        "a year's accountability (monthly lists, the annual review) and a month's margin, and "
        "no longer, since they hold officers' pseudonyms.",
    )


class Settings(BaseSettings):
    """Every knob of the pipeline, with its unit and default."""

    model_config = SettingsConfigDict(
        env_prefix="HOTSPOT_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    # --- where things live -------------------------------------------------------------------
    data_dir: Path = Field(Path("var"), description="Local state: chDB data, keys, demo output.")
    broker_url: str = Field(
        "embedded",
        description="'embedded' starts Tansu on a free loopback port; otherwise "
        "'kafka://host:port[,host:port]' of a running cluster.",
    )
    warehouse_url: SecretStr = Field(
        SecretStr(""),
        description="'chdb:///path' (embedded ClickHouse) or "
        "'clickhouse://user:pass@host:9000/db'. Empty means chdb under data_dir/warehouse. "
        "A secret (it holds the password): printed only as warehouse_display.",
    )
    warehouse_admin_url: SecretStr = Field(
        SecretStr(""),
        description="'clickhouse://admin:pass@host:9000/db' of a user with DDL and access "
        "management rights, for `hotspot migrate` and `backfill`. Empty: warehouse_url. "
        "A secret, like warehouse_url.",
    )
    warehouse_access: WarehouseAccess = Field(
        default_factory=WarehouseAccess,
        description="Grafana's read-only ClickHouse users (created by `hotspot migrate`).",
    )
    warehouse_retry_initial_s: float = Field(
        0.5,
        gt=0,
        description="First wait before retrying a failed warehouse write, s; doubles "
        "(warehouse_retry_multiplier) on each failure up to warehouse_retry_max_s.",
    )
    warehouse_retry_max_s: float = Field(30.0, gt=0, description="Longest wait between retries, s.")
    warehouse_retry_multiplier: float = Field(2.0, ge=1, description="Backoff growth per attempt.")
    warehouse_retry_unavailable_attempts: int = Field(
        0,
        ge=0,
        description="Attempts while ClickHouse is unreachable; 0 retries for ever (the "
        "worker blocks and commits no offsets until the warehouse is back).",
    )
    warehouse_retry_rejected_attempts: int = Field(
        5,
        ge=1,
        description="Attempts for a transient rejection (too many parts, memory limit, "
        "timeout); other rejected statements are never retried.",
    )
    registry_path: Path | None = Field(
        None, description="Admin-unit registry (GeoJSON). Empty means data_dir/registry.geojson."
    )
    cameras_path: Path | None = Field(
        None,
        description="Camera inventory (CSV camera_id,lat,lon[,installed_at,retired_at]; "
        "pipeline/cameras.py), stored at each worker start and backfill. Empty means "
        "cameras.csv beside the registry, if it exists.",
    )
    warehouse_tls: bool = Field(
        False,
        description="Connect to a ClickHouse server over TLS (its secure native port, 9440 "
        "by default): HOTSPOT_WAREHOUSE_TLS.",
    )
    warehouse_tls_ca_file: Path | None = Field(
        None, description="CA bundle (PEM) that signed the server's certificate; empty: system's."
    )
    warehouse_tls_verify: bool = Field(
        True, description="Verify the server's certificate and name; false only for a test."
    )

    # --- Kafka ---------------------------------------------------------------------------------
    app_id: str = Field("hotspot", description="Faust app id, also the consumer group.")
    topics: TopicNames = TopicNames()
    partitions: int = Field(4, ge=1, description="Partitions of topics the project creates.")
    batch_max: int = Field(
        20_000, ge=1, description="Most messages the worker takes in one poll (all topics)."
    )
    batch_within_s: float = Field(
        0.05, gt=0, description="Longest a poll (and a broker fetch) waits for messages, s."
    )
    fetch_max_bytes: int = Field(
        8 << 20, ge=1 << 16, description="Most bytes one fetch brings per partition."
    )
    sink_every_s: float = Field(
        1.0,
        ge=0,
        description="Shortest time between two writes of the dead-letter, incident "
        "and flag sinks, s: every ClickHouse insert has a fixed cost (about 9 ms on chDB), so "
        "records that arrive meanwhile are written together.",
    )
    correlator_threads: int = Field(
        2,
        ge=1,
        description="Partitions correlated at the same time. Each one holds its "
        "window's temporaries while it closes a boundary, and threads beyond the cores add "
        "memory, not speed.",
    )
    backfill_processes: int = Field(
        1,
        ge=0,
        description="Processes that correlate a backfill's partitions (at most one per "
        "partition): 1 in the backfill's own process; N > 1 forks N children, partition p in "
        "child p % N, while the backfill's process reads, normalises and writes; 0 one per CPU "
        "the backfill may run on (its CPU affinity). The outputs do not depend on it. Default 1: "
        "on the project's shared 2-core machine (load 4-5) 2 processes ran a dense backfill at "
        "0.78x the rate of 1, though they took half the CPU time off the backfill's process and "
        "would gain on free cores (benchmarks/README.md, backfill.py).",
    )
    producer_linger_ms: int = Field(
        2, ge=0, description="How long the producer waits to fill a request, ms."
    )
    producer_batch_bytes: int = Field(
        512 << 10,
        ge=1 << 14,
        description="Record batch size, bytes (below the broker's "
        "message.max.bytes, 1 MiB by default).",
    )
    rebalance_timeout_s: float = Field(
        6.0, gt=0, description="Consumer-group rebalance timeout, s: bounds a worker's start-up."
    )
    session_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Consumer-group session timeout, s: how fast a dead worker's "
        "partitions move to the others.",
    )
    web_port: int = Field(0, ge=0, description="Faust web port; 0 picks a free one.")
    checkpoint_every_s: float = Field(
        10.0,
        gt=0,
        description="Longest time between two checkpoints of a partition's correlator to the "
        "checkpoints topic, s: after a crash the partition re-processes at most this much input.",
    )
    checkpoint_every_rows: int = Field(
        50_000,
        ge=1,
        description="Most alerts a partition's correlator takes between two checkpoints.",
    )
    failpoint: str = Field(
        "",
        description="For crash tests only: NAME[:N] makes the worker kill itself with "
        "SIGKILL the N-th time it passes the named place (jobs/failpoints.py). Empty: never.",
    )
    web_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the Faust web server (and /metrics) listens on: loopback by "
        "default, so only this machine can read the metrics; '0.0.0.0' (or a host's address) "
        "lets a Prometheus server elsewhere scrape them.",
    )
    idle_mark_s: float = Field(
        60.0,
        ge=0,
        description="A feed partition this worker holds that has been read to its end and "
        "produced nothing for this long, s, gets a watermark mark at the wall clock (and again "
        "every as long), so correlators close the windows of a quiet city. A later alert of "
        "that partition more than the allowed lateness behind the wall clock is then late. "
        "0 turns it off: a replay of history, whose event times are far behind the wall clock.",
    )
    replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of each topic the project creates (at most the brokers; 3 on a "
        "production cluster). Topics that exist keep theirs.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the worker's Kafka clients connect to the brokers."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism, with a SASL_* kafka_security_protocol."
    )
    kafka_sasl_username: str = Field("", description="SASL user, with a SASL_* protocol.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password: HOTSPOT_KAFKA_SASL_PASSWORD (a secret, never printed)."
    )
    kafka_ssl_ca_file: Path | None = Field(
        None, description="CA bundle (PEM) for the brokers' certificates; empty: the system's."
    )
    kafka_ssl_cert_file: Path | None = Field(
        None, description="Client certificate (PEM) for mutual TLS; empty: none."
    )
    kafka_ssl_key_file: Path | None = Field(
        None, description="Private key (PEM) of kafka_ssl_cert_file."
    )
    notice_receipt_s: float = Field(
        300.0,
        gt=0,
        description="A notice not received this long after its issue time (event time, s) gets "
        "a `reminder` event on the notices topic.",
    )
    notice_escalation_s: float = Field(
        1800.0,
        gt=0,
        description="A notice not received this long after its issue time (event time, s) is "
        "`escalated` to its district and the city command centre; longer than "
        "notice_receipt_s.",
    )
    notice_rise_ratio: float = Field(
        1.5,
        gt=1,
        description="An unacknowledged notice is `raised` again when its flag's score reaches "
        "this many times the score it last reported.",
    )
    notice_retention_s: float = Field(
        86400.0,
        gt=0,
        description="A notice with no timer left is forgotten this long (event time, s) after "
        "its last event; an ack for it after that is dead-lettered as unknown_notice.",
    )
    webhook_urls: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="`hotspot notify`: where notice events go, a URL per unit level (station, "
        'community, street, district, city), e.g. HOTSPOT_WEBHOOK_URLS=\'{"station": '
        '"https://sms.example/hook"}\'; levels without one are not told. Secrets: a URL '
        "often holds a token.",
    )
    webhook_retry_initial_s: float = Field(
        0.5,
        gt=0,
        description="First wait before re-posting a notice event the webhook did not take, s; "
        "doubles on each failure up to webhook_retry_max_s, for ever (at-least-once).",
    )
    webhook_retry_max_s: float = Field(30.0, gt=0, description="Longest wait between posts, s.")
    webhook_timeout_s: float = Field(10.0, gt=0, description="One webhook POST's time limit, s.")
    false_alarm_suppress_s: float = Field(
        7200.0,
        ge=0,
        description="After a `false_alarm` ack, a flag opening on the same cell within this long "
        "of the ack's time (event time, s) is held back (not published, no notice); 0: never.",
    )
    false_alarm_rise_ratio: float = Field(
        1.5,
        gt=1,
        description="A flag held by a false alarm is published after all once its score reaches "
        "this many times the score the dismissed notice last reported.",
    )

    # --- ingest contracts ----------------------------------------------------------------------
    coordinate_systems: dict[str, CoordinateSystem] = Field(
        default_factory=lambda: dict.fromkeys(SOURCES, "wgs84"),
        description="Datum each feed's producers send; gcj02 is converted to WGS84 on ingest.",
    )
    area: Area | None = Field(
        None,
        description="Accepted WGS84 box; empty means the registry's extent plus area_margin_m.",
    )
    area_margin_m: float = Field(2000.0, ge=0, description="Margin around the registry, metres.")
    max_future_s: float = Field(600.0, ge=0, description="Event time at most this far ahead, s.")
    max_age_s: float = Field(
        7 * 86400.0,
        ge=0,
        description="Event time at most this far behind the wall clock, s; 0 disables "
        "(replays of old history).",
    )
    dedupe_horizon_s: float = Field(
        86400.0, gt=0, description="Same feed and id within this much event time is a duplicate."
    )
    tile_m: float = Field(4000.0, gt=0, description="Side of the coarse tiles routing normalized.")
    halo_m: float = Field(
        800.0,
        ge=0,
        description="Alerts this close to a tile edge are copied to the neighbour "
        "tiles' partitions: at least the hotspot radius plus half a lattice cell diagonal.",
    )
    correlation: CorrelationParams = Field(
        default_factory=CorrelationParams,
        description="Windows, incident linking, hotspot scoring and flag thresholds.",
    )
    baseline_prior_rate_km2_h: float = Field(
        5.0,
        gt=0,
        description="City-wide fallback rate of counted alerts, per km² per hour, "
        "used until a cell has history.",
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="HMAC key for personal fields. Empty: a random key kept in data_dir, so "
        "pseudonyms stay stable across restarts of one installation.",
    )

    grafana: GrafanaSettings = Field(
        default_factory=GrafanaSettings, description="Grafana for `hotspot dashboards push`."
    )
    ratings: RatingThresholds = Field(
        default_factory=RatingThresholds, description="Three-colour compound ratings."
    )
    trends: TrendSettings = Field(
        default_factory=TrendSettings, description="Emerging hot-spot trends of grid cells."
    )
    retention: Retention = Field(
        default_factory=Retention, description="How long the warehouse keeps each kind of row."
    )

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_levels(cls, urls: dict[str, SecretStr]) -> dict[str, SecretStr]:
        levels = ("station", "community", "street", "district", "city")
        unknown = sorted(set(urls) - set(levels))
        if unknown:
            raise ValueError(
                f"webhook_urls has no unit level {', '.join(unknown)}; use {', '.join(levels)}"
            )
        return urls

    @field_validator("coordinate_systems")
    @classmethod
    def _known_feeds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown feeds {sorted(unknown)}; feeds are {list(SOURCES)}")
        return {**dict.fromkeys(SOURCES, "wgs84"), **value}

    @model_validator(mode="before")
    @classmethod
    def _merge_tile_follows_tile_m(cls, data: Any) -> Any:
        # Flags merge inside a routing tile (a partition holds whole tiles), so the merge
        # tile is the routing tile unless it is set; a different one is refused below.
        if not isinstance(data, dict) or "tile_m" not in data:
            return data
        correlation = data.get("correlation") or {}
        if isinstance(correlation, dict) and "merge_tile_m" not in correlation:
            data = {**data, "correlation": {**correlation, "merge_tile_m": data["tile_m"]}}
        return data

    @model_validator(mode="after")
    def _halo_covers_the_scoring_disk(self) -> Settings:
        # A correlator must see every alert within the hotspot radius of the cells it owns,
        # including across its tiles' edges: the halo is what brings those alerts to it.
        c = self.correlation
        needed = c.hotspot_radius_m + c.cell_m * math.sqrt(2) / 2
        if self.halo_m < needed:
            raise ValueError(
                f"halo_m ({self.halo_m:.0f} m) is below hotspot_radius_m + half a cell diagonal "
                f"({needed:.0f} m): raise halo_m, or flags near tile edges would be missed"
            )
        if 2 * self.halo_m > self.tile_m:
            raise ValueError(f"halo_m ({self.halo_m:.0f} m) must be at most half of tile_m")
        if c.merge_tile_m != self.tile_m:
            # flags merge inside a tile so that a partition (whole tiles) decides alone
            raise ValueError(
                f"correlation.merge_tile_m ({c.merge_tile_m:.0f} m) must equal tile_m "
                f"({self.tile_m:.0f} m): leave HOTSPOT_CORRELATION__MERGE_TILE_M unset, it follows "
                "tile_m"
            )
        return self

    @field_validator("pseudonym_key")
    @classmethod
    def _key_is_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # the HMAC key (pipeline/privacy.py): a short one is guessable from the pseudonyms
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("must be at least 16 bytes; use e.g. `openssl rand -hex 32`")
        return value

    @field_validator("warehouse_url", "warehouse_admin_url")
    @classmethod
    def _warehouse_url_parses(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url:
            return value
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- a port that is not a number raises here
        except ValueError as exc:
            raise ValueError(f"{redact_url(url)!r} is not a URL ({exc})") from None
        if parts.scheme not in ("chdb", "clickhouse"):
            raise ValueError(
                f"{redact_url(url)!r}: use chdb:///path or clickhouse://user:pass@host:9000/db"
            )
        return value

    @model_validator(mode="after")
    def _credentials_are_settings(self) -> Settings:
        # A password in broker_url would be printed wherever the address is (logs, errors);
        # it has its own secret setting instead.
        if "@" in self.broker_url:
            raise ValueError(
                "broker_url holds credentials ('user:pass@'); give the address only and set "
                "kafka_sasl_username and HOTSPOT_KAFKA_SASL_PASSWORD"
            )
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and HOTSPOT_KAFKA_SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _retry_backoff_is_ordered(self) -> Settings:
        if self.warehouse_retry_max_s < self.warehouse_retry_initial_s:
            raise ValueError(
                f"warehouse_retry_max_s ({self.warehouse_retry_max_s} s) is below "
                f"warehouse_retry_initial_s ({self.warehouse_retry_initial_s} s): raise it"
            )
        return self

    @model_validator(mode="after")
    def _escalation_after_reminder(self) -> Settings:
        if self.notice_escalation_s <= self.notice_receipt_s:
            raise ValueError(
                f"notice_escalation_s ({self.notice_escalation_s} s) is not after "
                f"notice_receipt_s ({self.notice_receipt_s} s): a notice is reminded before it "
                "is escalated; raise notice_escalation_s"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        toml_file = _settings_file.get() or os.environ.get("HOTSPOT_SETTINGS_FILE")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # --- derived values ------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        """Whether the broker is the embedded Tansu (a demo or a test, one installation)."""
        return self.broker_url == "embedded"

    @property
    def resolved_warehouse_url(self) -> str:
        """The URL to connect with, password and TLS options included: never print it (use
        :attr:`warehouse_display`)."""
        url = self.warehouse_url.get_secret_value()
        if not url:
            return f"chdb://{(self.data_dir / 'warehouse').resolve()}"
        return self._with_tls(url)

    def _with_tls(self, url: str) -> str:
        if self.warehouse_tls and url.startswith("clickhouse://"):
            options = {"secure": "1", "verify": "1" if self.warehouse_tls_verify else "0"}
            if self.warehouse_tls_ca_file is not None:
                options["ca_certs"] = str(self.warehouse_tls_ca_file)
            url += ("&" if "?" in url else "?") + urlencode(options)
        return url

    @property
    def resolved_admin_warehouse_url(self) -> str:
        """The URL of the admin connection (migrations, access, backfill's deletes): the
        warehouse_admin_url, else the worker's; never print it."""
        if not self.warehouse_admin_url.get_secret_value():
            return self.resolved_warehouse_url
        return self._with_tls(self.warehouse_admin_url.get_secret_value())

    @property
    def warehouse_display(self) -> str:
        """The warehouse URL as messages and logs may show it: without its password."""
        return redact_url(self.resolved_warehouse_url)

    def kafka_client_options(self) -> dict[str, object]:
        """Security keyword arguments for the Kafka clients (aiokafka and kafka-python take
        the same names); empty for PLAINTEXT, so the clients keep their defaults."""
        protocol = self.kafka_security_protocol
        if protocol == "PLAINTEXT":
            return {}
        options: dict[str, object] = {"security_protocol": protocol}
        if protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if protocol.endswith("SSL"):
            import ssl

            context = ssl.create_default_context(
                cafile=str(self.kafka_ssl_ca_file) if self.kafka_ssl_ca_file else None
            )
            if self.kafka_ssl_cert_file is not None:
                context.load_cert_chain(
                    str(self.kafka_ssl_cert_file),
                    str(self.kafka_ssl_key_file) if self.kafka_ssl_key_file else None,
                )
            options["ssl_context"] = context
        return options

    def require_pseudonym_key(self) -> None:
        """Refuse a deployed worker without a configured key: each would invent its own under
        its data_dir, so one phone number would get one pseudonym per worker, and dead letters
        sealed by one could not be opened with another's key."""
        if not self.embedded and self.pseudonym_key is None:
            raise ConfigurationError(
                "no pseudonymisation key: with a Kafka cluster (broker_url is not 'embedded') "
                "every worker must share one; set HOTSPOT_PSEUDONYM_KEY (e.g. `openssl rand "
                "-hex 32`) in every worker's environment"
            )

    @property
    def resolved_registry_path(self) -> Path:
        return self.registry_path or self.data_dir / "registry.geojson"

    @property
    def resolved_cameras_path(self) -> Path | None:
        """The cameras file to load: the setting's (which must exist), else cameras.csv beside
        the registry when there is one; None: no inventory."""
        if self.cameras_path is not None:
            return self.cameras_path
        beside = self.resolved_registry_path.with_name("cameras.csv")
        return beside if beside.exists() else None

    def pseudonym_secret(self, *, create: bool = True) -> bytes:
        """The HMAC key: the configured one, or one generated once and kept in data_dir.

        ``create=False`` is for readers (``deadletter show``): a missing key is then an error
        naming the setting, since a new random key would open nothing and mislead a later
        worker into pseudonymising with it."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        key_file = self.data_dir / "pseudonym.key"
        if not key_file.exists() and not create:
            raise ConfigurationError(
                f"no pseudonym key: HOTSPOT_PSEUDONYM_KEY is unset and {key_file} does not "
                "exist; set HOTSPOT_PSEUDONYM_KEY to the workers' key, or HOTSPOT_DATA_DIR to "
                "the folder whose pseudonym.key they use"
            )
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip().encode()


#: the TOML file of the :func:`load_settings` call in progress (sources are class-level hooks)
_settings_file: ContextVar[str | None] = ContextVar("hotspot_settings_file", default=None)


def load_settings(file: Path | None = None, **overrides) -> Settings:
    """Settings from a TOML file (optional), the environment and ``overrides``.

    A ``HOTSPOT_`` variable that names no setting is refused, as an unknown TOML key is: a
    misspelt ``HOTSPOT_DATA_DIRR`` would otherwise be ignored without a word."""
    if file is not None and not file.exists():
        raise ConfigurationError(f"settings file {file} does not exist; pass an existing TOML")
    _refuse_unknown_environment(os.environ)
    token = _settings_file.set(str(file) if file is not None else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid settings: {_one_line(exc)}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
    finally:
        _settings_file.reset(token)


#: ``HOTSPOT_`` variables that are not fields of :class:`Settings`
_NOT_FIELDS = frozenset({"SETTINGS_FILE"})


def _refuse_unknown_environment(environ) -> None:
    unknown = [name for name in environ if _unknown(name)]
    if not unknown:
        return
    import difflib

    known = [f"HOTSPOT_{name.upper()}" for name in Settings.model_fields]
    hints = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name.upper(), known, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    raise ConfigurationError(
        f"unknown environment variable(s) {', '.join(hints)}: no setting has that name; fix "
        "or unset them (pipeline/settings.py lists every setting)"
    )


def _unknown(name: str) -> bool:
    """Whether ``name`` is a HOTSPOT_ variable that names no setting (nested with ``__``)."""
    upper = name.upper()
    if not upper.startswith("HOTSPOT_") or upper[len("HOTSPOT_") :] in _NOT_FIELDS:
        return False
    head, _, rest = upper[len("HOTSPOT_") :].lower().partition("__")
    field = Settings.model_fields.get(head)
    if field is None:
        return True
    model = field.annotation
    if rest and isinstance(model, type) and issubclass(model, BaseModel):
        return rest.partition("__")[0] not in model.model_fields
    return False


#: a setting whose name holds one of these words may carry a secret (a URL its password)
_SECRET_WORDS = frozenset({"key", "token", "password", "secret", "url"})


def _one_line(exc: ValidationError) -> str:
    """Pydantic's report as one line per problem joined by "; ", each naming the setting as
    both places spell it (``partitions`` / ``HOTSPOT_PARTITIONS``)."""
    problems = []
    for error in exc.errors(include_url=False):
        where = [str(part) for part in error["loc"]]
        if not where:
            problems.append(error["msg"])
            continue
        name = ".".join(where)
        env = "HOTSPOT_" + "__".join(where).upper()
        if error["type"] == "extra_forbidden":
            problems.append(f"{name}: no such setting (a TOML key or keyword); remove it")
        elif _SECRET_WORDS.intersection(where[-1].split("_")):
            problems.append(f"{name} ({env}): {error['msg']}")  # never echo a secret's value
        else:
            problems.append(f"{name} ({env}): {error['msg']}, got {error.get('input')!r}")
    return "; ".join(problems)
