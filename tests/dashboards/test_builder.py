"""Dashboards are generated from code; the committed JSON and provisioning must be current."""

from __future__ import annotations

import json

from pipeline.dashboards import all_dashboards, generated_files, stale_files, write_generated
from pipeline.dashboards.builder import DASHBOARD_DIR, REPO_ROOT
from pipeline.dashboards.panels import DATASOURCE, PROMETHEUS


def test_committed_dashboards_and_provisioning_are_current():
    stale = stale_files()
    assert not stale, f"stale generated files {stale}; run `hotspot dashboards build`"


def test_a_changed_missing_or_orphan_file_is_reported(tmp_path):
    written = write_generated(tmp_path)
    assert stale_files(tmp_path) == []
    written[0].write_text(written[0].read_text().replace("Hotspot", "Hotpot"))
    written[-1].unlink()
    orphan = tmp_path / "dashboards" / "old-board.json"
    orphan.write_text("{}")
    assert stale_files(tmp_path) == [written[0], written[-1], orphan]


def test_generation_is_deterministic():
    assert generated_files() == generated_files()


def test_uids_are_unique_and_panels_use_the_provisioned_data_source():
    boards = [json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))]
    assert len({b["uid"] for b in boards}) == len(boards) == len(all_dashboards())
    provisioned = (REPO_ROOT / "infra/grafana/provisioning/datasources/hotspot.yaml").read_text()
    assert f"uid: {DATASOURCE['uid']}" in provisioned
    assert f"type: {DATASOURCE['type']}" in provisioned
    for board in boards:
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids)
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
            assert panel["targets"], panel["title"]
            for t in panel["targets"]:
                assert t["datasource"] in (DATASOURCE, PROMETHEUS), panel["title"]
                text = t["rawSql"] if t["datasource"] == DATASOURCE else t["expr"]
                assert text.strip(), panel["title"]
            assert panel["datasource"] == panel["targets"][0]["datasource"]
    assert f"uid: {PROMETHEUS['uid']}" in provisioned
