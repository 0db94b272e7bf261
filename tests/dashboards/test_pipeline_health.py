"""The pipeline-health dashboard's Prometheus panels read metrics the workers serve, from the
job Prometheus scrapes them as (its SQL panels run on chDB in test_panel_sql.py)."""

from __future__ import annotations

import json
import re

import yaml

from pipeline.dashboards.builder import DASHBOARD_DIR, REPO_ROOT
from pipeline.dashboards.panels import PROMETHEUS
from pipeline.dashboards.pipeline_health import METRICS_USED
from pipeline.metrics import Metrics

BOARD = json.loads((DASHBOARD_DIR / "hotspot-pipeline-health.json").read_text())


def served() -> set[str]:
    """Every sample name a worker's /metrics can hold (counters with their _total)."""
    names = set()
    for family in Metrics().registry.collect():
        names |= {family.name, f"{family.name}_total"}
    return names


def expressions() -> list[str]:
    return [
        t["expr"] for p in BOARD["panels"] for t in p["targets"] if t["datasource"] == PROMETHEUS
    ]


def test_every_metric_a_panel_reads_is_one_a_worker_serves():
    read = {m for e in expressions() for m in re.findall(r"\bhotspot_\w+", e)}
    assert read == set(METRICS_USED)
    assert read <= served(), read - served()


def test_workers_up_names_the_job_prometheus_scrapes():
    config = yaml.safe_load((REPO_ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    jobs = {c["job_name"] for c in config["scrape_configs"]}
    used = {j for e in expressions() for j in re.findall(r'job="([^"]+)"', e)}
    assert used and used <= jobs


def test_it_shows_what_on_call_opens_first():
    titles = {p["title"] for p in BOARD["panels"]}
    for wanted in (
        "Dead letters by reason",
        "Late alerts by feed",
        "Consumer lag by topic",
        "Watermark lag by partition",
        "Open flags",
        "Notice events by kind",
        "Warehouse retries",
        "Oldest checkpoint",
    ):
        assert wanted in titles
