"""Publish the data source and the dashboards to a Grafana server (``hotspot dashboards push``).

Everything is keyed by a fixed uid, so pushing again updates in place: the data source is
looked up by uid and updated (or created), the folder is created once, and dashboards are saved
with ``overwrite`` (Grafana then bumps their version instead of adding a copy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..settings import Settings
from .builder import all_dashboards
from .exceptions import GrafanaNotConfigured, GrafanaPushError
from .provisioning import datasource_model

__all__ = ["PushReport", "push_dashboards", "FOLDER_UID"]

FOLDER_UID = "hotspot"


@dataclass
class PushReport:
    """What Grafana did: ``created`` or ``updated`` for the data source, the folder's uid and
    each dashboard's URL by uid."""

    datasource: str = ""
    folder: str = ""
    dashboards: dict[str, str] = field(default_factory=dict)


def _api(settings: Settings):
    from grafana_client import GrafanaApi

    grafana = settings.grafana
    if not grafana.url:
        raise GrafanaNotConfigured(
            "no Grafana URL: set grafana.url in the settings file or HOTSPOT_GRAFANA__URL"
        )
    if grafana.token is None:
        raise GrafanaNotConfigured(
            "no Grafana token: create a service-account token (Editor) in Grafana and set "
            "HOTSPOT_GRAFANA__TOKEN"
        )
    return GrafanaApi.from_url(
        grafana.url, credential=grafana.token.get_secret_value(), timeout=grafana.timeout_s
    )


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status_code", None)


def _upsert_datasource(api, model: dict[str, Any]) -> str:
    from grafana_client.client import GrafanaClientError

    try:
        api.datasource.get_datasource_by_uid(model["uid"])
    except GrafanaClientError as exc:
        if _status(exc) != 404:
            raise
        api.datasource.create_datasource(model)
        return "created"
    api.datasource.update_datasource_by_uid(model["uid"], model)
    return "updated"


def _ensure_folder(api, title: str) -> str:
    from grafana_client.client import GrafanaClientError

    try:
        api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if _status(exc) != 404:
            raise
        api.folder.create_folder(title, uid=FOLDER_UID)
    return FOLDER_UID


def push_dashboards(settings: Settings) -> PushReport:
    """Create or update the ClickHouse data source, the folder and every dashboard."""
    import niquests
    from grafana_client.client import GrafanaException

    clickhouse_url = (
        settings.grafana.clickhouse_url.get_secret_value() or settings.resolved_warehouse_url
    )
    model = datasource_model(clickhouse_url)
    api = _api(settings)
    report = PushReport()
    try:
        report.datasource = _upsert_datasource(api, model)
        report.folder = _ensure_folder(api, settings.grafana.folder)
        for dashboard in all_dashboards():
            saved = api.dashboard.update_dashboard(
                {
                    "dashboard": {**dashboard.to_json(), "id": None},
                    "folderUid": report.folder,
                    "overwrite": True,
                    "message": "hotspot dashboards push",
                }
            )
            report.dashboards[dashboard.uid] = str(saved.get("url", ""))
    except GrafanaException as exc:
        raise GrafanaPushError(
            f"Grafana at {settings.grafana.url} refused the push: {exc.message}. Check that the "
            "token's service account is Editor or Admin and the ClickHouse plugin "
            "(grafana-clickhouse-datasource) is installed",
            status=_status(exc) or None,
        ) from exc
    except niquests.exceptions.RequestException as exc:
        raise GrafanaPushError(
            f"cannot reach Grafana at {settings.grafana.url}: {exc}; check grafana.url"
        ) from exc
    return report
