"""The committed wire schemas are current, and they describe what the decoders accept."""

from __future__ import annotations

import json

import jsonschema
import msgspec
import numpy as np
import pytest

from pipeline.deadletter import DeadLetter, Reason
from pipeline.envelope import ENVELOPE_SCHEMA, NormalizedAlert
from pipeline.feeds.decode import FEEDS, decode_batch
from pipeline.jsonschemas import SCHEMA_DIR, stale_schemas, wire_schemas, write_schemas
from pipeline.marks import Marks, encode_marks

T_MS = 1_714_528_800_000

SAMPLES = {
    "alarm_phone": {
        "event_id": "ev-1",
        "device_id": "dev-1",
        "household_id": "hh-1",
        "trigger": "panic",
        "triggered_at": "2024-05-01T10:00:00+08:00",
        "lat": 31.2,
        "lon": 121.4,
        "caller_phone": "13800138000",
    },
    "dispatch_110": {
        "incident_id": "inc-1",
        "received_at": T_MS,
        "category": "robbery",
        "priority": 2,
        "lat": 31.2,
        "lon": 121.4,
        "station_id": "PS1",
    },
    "camera": {
        "alert_id": "a-1",
        "camera_id": "cam-1",
        "detected_at": T_MS,
        "kind": "fight",
        "confidence": 0.5,
        "lat": 31.2,
        "lon": 121.4,
    },
    "grid_report": {
        "report_id": "r-1",
        "reporter_id": "w-1",
        "reported_at": "2024-05-01T02:00:00Z",
        "category": "dispute",
        "status": "reported",
        "grid_code": "G1",
    },
}


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schemas_are_not_stale():
    """If this fails, run `hotspot schemas` and commit schemas/wire/."""
    assert stale_schemas() == []


def test_stale_check_notices_missing_and_edited_files(tmp_path):
    write_schemas(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(wire_schemas())
    assert stale_schemas(tmp_path) == []
    (tmp_path / "camera.schema.json").write_text("{}\n")
    (tmp_path / "normalized.arrow.json").unlink()
    assert sorted(stale_schemas(tmp_path)) == ["camera.schema.json", "normalized.arrow.json"]


def test_there_is_a_schema_per_feed_and_per_output_topic():
    assert set(wire_schemas()) == {f"{name}.schema.json" for name in FEEDS} | {
        "normalized.arrow.json",
        "watermark.schema.json",
        "deadletter.schema.json",
        "incident.schema.json",
        "flag.schema.json",
        "ack.schema.json",
        "ack_record.schema.json",
        "notice.schema.json",
    }


@pytest.mark.parametrize("source", list(FEEDS))
def test_feed_schema_accepts_a_good_sample_the_decoder_accepts(source):
    assert not list(validator(f"{source}.schema.json").iter_errors(SAMPLES[source]))
    decoded = decode_batch(FEEDS[source], [json.dumps(SAMPLES[source]).encode()])
    assert decoded.rejects == [] and len(decoded) == 1


@pytest.mark.parametrize("source", list(FEEDS))
def test_feed_schema_rejects_a_missing_required_field(source):
    v = validator(f"{source}.schema.json")
    for field in (FEEDS[source].id_field, FEEDS[source].time_field, FEEDS[source].category_field):
        sample = {k: x for k, x in SAMPLES[source].items() if k != field}
        errors = list(v.iter_errors(sample))
        assert [e.validator for e in errors] == ["required"], field
        assert field in errors[0].message
        decoded = decode_batch(FEEDS[source], [json.dumps(sample).encode()])
        assert [r.reason for r in decoded.rejects] == [Reason.MISSING_FIELD]


@pytest.mark.parametrize(
    ("source", "changes"),
    [
        ("dispatch_110", {"priority": 9}),
        ("dispatch_110", {"priority": "1"}),
        ("dispatch_110", {"incident_id": ""}),
        ("camera", {"confidence": 1.5}),
        ("camera", {"detected_at": 1.5}),
        ("camera", {"detected_at": 2**63}),
        ("camera", {"lat": None}),
        ("grid_report", {"lat": "31.2"}),
        ("alarm_phone", {"caller_phone": 138}),
    ],
)
def test_schema_and_decoder_agree_on_bad_values(source, changes):
    sample = {**SAMPLES[source], **changes}
    assert list(validator(f"{source}.schema.json").iter_errors(sample))
    assert len(decode_batch(FEEDS[source], [json.dumps(sample).encode()])) == 0


def test_extra_fields_are_allowed_by_schema_and_decoder():
    sample = {**SAMPLES["camera"], "vendor": "acme"}
    assert not list(validator("camera.schema.json").iter_errors(sample))
    assert len(decode_batch(FEEDS["camera"], [json.dumps(sample).encode()])) == 1


def test_the_envelope_columns_file_lists_every_column_in_order():
    doc = json.loads((SCHEMA_DIR / "normalized.arrow.json").read_text())
    assert [(c["name"], c["type"], c["nullable"]) for c in doc["columns"]] == [
        (f.name, str(f.type), f.nullable) for f in ENVELOPE_SCHEMA
    ]
    assert all(c["description"] for c in doc["columns"])
    assert [c["name"] for c in doc["columns"]] == list(NormalizedAlert.__struct_fields__)


def test_a_watermark_mark_validates_against_its_schema():
    (value,) = encode_marks(Marks(np.array([5]), np.array([T_MS])))
    assert not list(validator("watermark.schema.json").iter_errors(json.loads(value)))
    assert list(validator("watermark.schema.json").iter_errors({"origin": -1, "progress_ms": 0}))


def test_dead_letter_samples_validate():
    letter = DeadLetter(
        reason=Reason.MISSING_FIELD,
        detail="Object missing required field `kind`",
        source="camera",
        topic="alerts.camera",
        partition=0,
        offset=7,
        received_ms=T_MS,
        payload_sealed="gAAAA...",
    )
    v = validator("deadletter.schema.json")
    assert not list(v.iter_errors(json.loads(msgspec.json.encode(letter))))
    assert list(v.iter_errors({**json.loads(msgspec.json.encode(letter)), "reason": "nope"}))
