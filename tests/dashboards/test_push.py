"""``dashboards push`` against a stand-in for Grafana.

Grafana cannot run on this machine (no package), so the test starts a small real HTTP server
on a loopback port that implements the few endpoints grafana-client calls (data sources by uid,
folders, ``POST /api/dashboards/db``) with Grafana's status codes and keeps what it is sent. It
is a stand-in, not Grafana: it checks the requests and the create-then-update behaviour, not
that Grafana renders the panels (the panel SQL is tested on chDB in test_panel_sql.py).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.dashboards import all_dashboards
from pipeline.dashboards.exceptions import GrafanaNotConfigured, GrafanaPushError
from pipeline.dashboards.panels import DATASOURCE
from pipeline.dashboards.push import push_dashboards
from pipeline.settings import Settings

TOKEN = "glsa_test-token"
CLICKHOUSE = "clickhouse://reader:s3cret@ch.internal:9000/hotspot"


class StandInGrafana(ThreadingHTTPServer):
    """Grafana's HTTP API, the part the push uses, in memory."""

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.requests: list[tuple[str, str, dict | None]] = []
        self.auth_headers: list[str] = []
        self.datasources: dict[str, dict] = {}
        self.folders: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def calls(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == path)


class _Handler(BaseHTTPRequestHandler):
    server: StandInGrafana

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        srv = self.server
        with srv.lock:
            srv.requests.append((method, self.path, body))
            srv.auth_headers.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != f"Bearer {srv.token}":
                return self._reply(401, {"message": "Unauthorized"})
            status, reply = self._route(method, self.path, body)
        self._reply(status, reply)

    def _route(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        srv = self.server
        if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
            uid = m.group(1)
            if uid not in srv.datasources:
                return 404, {"message": "Data source not found"}
            if method == "PUT":
                srv.datasources[uid] = {**body, "id": srv.datasources[uid]["id"]}
                return 200, {"message": "Datasource updated", "name": body["name"]}
            return 200, srv.datasources[uid]
        if path == "/api/datasources" and method == "POST":
            if any(d["name"] == body["name"] for d in srv.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            srv.datasources[body["uid"]] = {**body, "id": len(srv.datasources) + 1}
            return 200, {"message": "Datasource added", "name": body["name"]}
        if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
            found = srv.folders.get(m.group(1))
            return (200, found) if found else (404, {"message": "folder not found"})
        if path == "/api/folders" and method == "POST":
            if body["uid"] in srv.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            srv.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
            return 200, srv.folders[body["uid"]]
        if path == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        return 404, {"message": "Not found"}

    def _save_dashboard(self, body: dict) -> tuple[int, dict]:
        srv, board = self.server, body["dashboard"]
        if body.get("folderUid") not in srv.folders:
            return 400, {"message": "folder not found"}
        old = srv.dashboards.get(board["uid"])
        if old and not body.get("overwrite"):
            return 412, {"status": "version-mismatch", "message": "dashboard has been changed"}
        version = old["version"] + 1 if old else 1
        srv.dashboards[board["uid"]] = {
            "dashboard": board,
            "folderUid": body["folderUid"],
            "version": version,
        }
        return 200, {
            "status": "success",
            "uid": board["uid"],
            "version": version,
            "url": f"/d/{board['uid']}/x",
        }

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")


@pytest.fixture
def grafana():
    server = StandInGrafana(TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _settings(url: str, token: str | None = TOKEN, clickhouse: str = CLICKHOUSE) -> Settings:
    return Settings(grafana={"url": url, "token": token, "clickhouse_url": clickhouse})


def test_push_creates_then_updates_without_duplicates(grafana):
    uids = {d.uid for d in all_dashboards()}
    first = push_dashboards(_settings(grafana.url))
    assert first.datasource == "created" and first.folder == "hotspot"
    assert set(first.dashboards) == uids
    assert grafana.calls("POST", "/api/datasources") == 1
    assert grafana.calls("POST", "/api/folders") == 1
    (source,) = grafana.datasources.values()
    assert source["uid"] == DATASOURCE["uid"] and source["type"] == DATASOURCE["type"]
    assert source["jsonData"] == {
        "host": "ch.internal",
        "port": 9000,
        "protocol": "native",
        "username": "reader",
        "defaultDatabase": "hotspot",
    }
    assert source["secureJsonData"] == {"password": "s3cret"}
    assert set(grafana.dashboards) == uids
    assert {d["version"] for d in grafana.dashboards.values()} == {1}
    assert {d["folderUid"] for d in grafana.dashboards.values()} == {"hotspot"}

    second = push_dashboards(_settings(grafana.url))
    assert second.datasource == "updated"
    assert grafana.calls("POST", "/api/datasources") == 1
    assert grafana.calls("PUT", f"/api/datasources/uid/{DATASOURCE['uid']}") == 1
    assert grafana.calls("POST", "/api/folders") == 1
    assert len(grafana.datasources) == 1 and set(grafana.dashboards) == uids
    assert {d["version"] for d in grafana.dashboards.values()} == {2}
    assert grafana.calls("POST", "/api/dashboards/db") == 2 * len(uids)
    assert set(grafana.auth_headers) == {f"Bearer {TOKEN}"}
    pushed = grafana.dashboards["hotspot-units"]["dashboard"]
    assert pushed["panels"] == all_dashboards()[1].to_json()["panels"]


def test_a_wrong_token_is_reported_with_its_status(grafana):
    with pytest.raises(GrafanaPushError, match="refused") as caught:
        push_dashboards(_settings(grafana.url, token="wrong"))
    assert caught.value.status == 401
    assert not grafana.datasources and not grafana.dashboards


def test_an_unreachable_grafana_is_reported():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GrafanaPushError, match="cannot reach Grafana"):
        push_dashboards(_settings(f"http://127.0.0.1:{port}"))


def test_missing_settings_say_what_to_set(tmp_path):
    with pytest.raises(GrafanaNotConfigured, match="HOTSPOT_GRAFANA__URL"):
        push_dashboards(_settings(""))
    with pytest.raises(GrafanaNotConfigured, match="HOTSPOT_GRAFANA__TOKEN"):
        push_dashboards(_settings("http://127.0.0.1:9", token=None))
    embedded = Settings(data_dir=tmp_path, grafana={"url": "http://127.0.0.1:9", "token": TOKEN})
    with pytest.raises(GrafanaNotConfigured, match="HOTSPOT_GRAFANA__CLICKHOUSE_URL"):
        push_dashboards(embedded)


def test_the_token_is_never_printed():
    settings = _settings("http://grafana:3000")
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.grafana)
