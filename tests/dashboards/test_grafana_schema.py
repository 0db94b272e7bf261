"""Every generated dashboard passes Grafana's own JSON Schemas (``../shared/grafana-schema/``,
from grafana-foundation-sdk, Draft 7): the dashboard model, and each panel's ``options`` and
``fieldConfig.defaults.custom`` against its panel type's schema. A dashboard that fails them may
load in Grafana with parts silently ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from pipeline.dashboards.builder import DASHBOARD_DIR, REPO_ROOT

SCHEMAS = REPO_ROOT.parent / "shared" / "grafana-schema"
DASHBOARDS = {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}

pytestmark = pytest.mark.skipif(
    not (SCHEMAS / "dashboard.jsonschema.json").exists(),
    reason=f"Grafana's schemas are not at {SCHEMAS} (the shared reference data)",
)


def validator(name: str, definition: str | None = None) -> Draft7Validator:
    schema = json.loads((SCHEMAS / f"{name}.jsonschema.json").read_text())
    if definition is not None:
        schema = {**schema, "$ref": f"#/definitions/{definition}"}
    return Draft7Validator(schema)


def errors(v: Draft7Validator, document) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in v.iter_errors(document)
    ]


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_the_dashboard_model_passes_grafana_s_schema(uid):
    assert errors(validator("dashboard"), DASHBOARDS[uid]) == []


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_each_panel_s_options_and_custom_field_config_pass_its_type_s_schema(uid):
    checked = 0
    for panel in DASHBOARDS[uid]["panels"]:
        kind = panel["type"]
        assert (SCHEMAS / f"{kind}.jsonschema.json").exists(), f"no schema for {kind}"
        problems = errors(validator(kind, "Options"), panel["options"])
        definitions = json.loads((SCHEMAS / f"{kind}.jsonschema.json").read_text())["definitions"]
        custom = panel["fieldConfig"]["defaults"].get("custom")
        if custom is not None and "FieldConfig" in definitions:
            problems += errors(validator(kind, "FieldConfig"), custom)
        assert problems == [], f"{panel['title']} ({kind}): {problems}"
        checked += 1
    assert checked == len(DASHBOARDS[uid]["panels"]) > 0


def test_a_wrong_panel_option_is_caught():
    """The check can fail: a misspelt enum value is refused."""
    panel = next(p for p in DASHBOARDS["hotspot-pipeline-health"]["panels"] if p["type"] == "stat")
    wrong = {**panel["options"], "colorMode": "rainbow"}
    assert errors(validator("stat", "Options"), wrong)


def test_the_schemas_are_grafana_s(tmp_path: Path):
    readme = (SCHEMAS / "README.md").read_text()
    assert "grafana-foundation-sdk" in readme
