"""Build every dashboard and the provisioning files, write them, and tell when they are stale.

The JSON in ``dashboards/`` and the YAML in ``infra/grafana/provisioning/`` are generated from
the Python definitions and committed; ``hotspot dashboards build --check`` (and a test) fails
when they differ from what the code generates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .camera_health import camera_health
from .command_centre import command_centre
from .compounds import compounds
from .dashboard import Dashboard
from .grid_reports import grid_reports
from .notice_receipt import notice_receipt
from .pipeline_health import pipeline_health
from .provisioning import dashboards_yaml, datasource_yaml
from .units import units

__all__ = [
    "REPO_ROOT",
    "DASHBOARD_DIR",
    "PROVISIONING_DIR",
    "all_dashboards",
    "generated_files",
    "write_generated",
    "stale_files",
    "dashboard_json",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO_ROOT / "dashboards"
PROVISIONING_DIR = REPO_ROOT / "infra" / "grafana" / "provisioning"

_BUILDERS: tuple[Callable[[], Dashboard], ...] = (
    command_centre,
    units,
    camera_health,
    grid_reports,
    compounds,
    notice_receipt,
    pipeline_health,
)


def all_dashboards() -> list[Dashboard]:
    return [build() for build in _BUILDERS]


def dashboard_json(dashboard: Dashboard) -> str:
    """Stable text: sorted keys, two-space indent, final newline (diffs stay readable)."""
    return json.dumps(dashboard.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files(root: Path = REPO_ROOT) -> dict[Path, str]:
    """Every generated file's path (under ``root``) and its text."""
    files = {root / "dashboards" / d.file_name: dashboard_json(d) for d in all_dashboards()}
    provisioning = root / "infra" / "grafana" / "provisioning"
    files[provisioning / "datasources" / "hotspot.yaml"] = datasource_yaml()
    files[provisioning / "dashboards" / "hotspot.yaml"] = dashboards_yaml()
    return files


def write_generated(root: Path = REPO_ROOT) -> list[Path]:
    """Write every generated file; returns their paths."""
    written = []
    for path, text in generated_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_files(root: Path = REPO_ROOT) -> list[Path]:
    """Generated files missing or different on disk, and dashboards no builder makes any more."""
    expected = generated_files(root)
    stale = [
        p for p, text in expected.items() if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    orphans = [p for p in sorted((root / "dashboards").glob("*.json")) if p not in expected]
    return stale + orphans
