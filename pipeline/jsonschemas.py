"""Schemas of every wire format, generated from the decoders' own types.

``schemas/wire/*.schema.json`` (JSON Schema, for the JSON topics) and
``schemas/wire/normalized.arrow.json`` (the Arrow columns of ``alerts.normalized``) are
committed so producers and consumers outside the project can code against them;
``hotspot schemas`` rewrites them and ``hotspot schemas --check`` (and a test) fails when
they are stale.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import msgspec

from .deadletter import DeadLetter
from .envelope import ENVELOPE_SCHEMA
from .feeds.decode import FEEDS
from .marks import WatermarkMark
from .outputs import FlagMessage, IncidentMessage
from .patrol.wire import Ack, AckRecord, NoticeEvent

__all__ = ["SCHEMA_DIR", "wire_schemas", "write_schemas", "stale_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "wire"


def _cleaned(node):
    """Docstrings dedented as :func:`inspect.cleandoc` does: msgspec releases differ on it, and
    the committed files must not depend on which one is installed."""
    if isinstance(node, dict):
        return {
            k: inspect.cleandoc(v) if k == "description" and isinstance(v, str) else _cleaned(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_cleaned(v) for v in node]
    return node


def _schema(title: str, struct: type, description: str) -> dict:
    schema = _cleaned(msgspec.json.schema(struct))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        **schema,
    }


def _arrow_schema() -> dict:
    return {
        "title": "alerts.normalized",
        "description": (
            "Each record value is one Apache Arrow IPC stream (streaming format, buffers "
            "compressed with LZ4 frame, or ZSTD in older records: Arrow readers take either) "
            "holding one record batch of normalised alerts with these "
            "columns, in this order. A record holds alerts of its partition's tiles, in "
            "arrival order. Personal fields are pseudonyms. Records keyed hotspot.watermark "
            "are watermark marks instead (watermark.schema.json)."
        ),
        "columns": [
            {
                "name": f.name,
                "type": str(f.type),
                "nullable": f.nullable,
                "description": f.metadata[b"description"].decode(),
            }
            for f in ENVELOPE_SCHEMA
        ],
    }


def wire_schemas() -> dict[str, dict]:
    """File name → schema, for every topic the project reads or writes."""
    schemas = {
        f"{name}.schema.json": _schema(
            f"alerts.{name}",
            spec.wire_type,
            f"One message on the alerts.{name} topic (JSON, one alert per message). "
            "Extra fields are ignored.",
        )
        for name, spec in FEEDS.items()
    }
    schemas["normalized.arrow.json"] = _arrow_schema()
    schemas["watermark.schema.json"] = _schema(
        "alerts.normalized (watermark marks)",
        WatermarkMark,
        "A watermark mark: a record on alerts.normalized keyed hotspot.watermark (envelope "
        "records have no key). Every normalise worker publishes one per feed partition of each "
        "batch, to every partition, after that batch's alerts, and one at the wall clock for "
        "a feed partition that has been idle; correlators close windows on the least progress "
        "of all origins.",
    )
    schemas["deadletter.schema.json"] = _schema(
        "alerts.deadletter",
        DeadLetter,
        "A message that could not become an alert, with its reason and its original bytes "
        "sealed (Fernet) under a key derived from the pseudonymisation secret.",
    )
    schemas["incident.schema.json"] = _schema(
        "incidents.correlated",
        IncidentMessage,
        "A correlated incident: alerts of any feeds linked in space and time. Keyed by id.",
    )
    schemas["flag.schema.json"] = _schema(
        "hotspots.flags",
        FlagMessage,
        "One version of a hotspot flag (open, update, close), keyed by flag_id; the highest "
        "version of a flag is its current state.",
    )
    schemas["ack.schema.json"] = _schema(
        "hotspots.acks",
        Ack,
        "A unit's acknowledgement of a notice (JSON, keyed by notice id), from a station's "
        "client or `hotspot ack`. Validated on arrival: malformed, unknown notice, a unit the "
        "notice does not address, dated before the notice, or an action already recorded is "
        "dead-lettered with that reason. Extra fields are ignored.",
    )
    schemas["ack_record.schema.json"] = _schema(
        "alerts.normalized (acks)",
        AckRecord,
        "A validated ack, officer id pseudonymised, as a record on the alerts.normalized "
        "partition that owns its notice, keyed hotspot.ack: applied in that partition's log "
        "order, between its alerts and watermark marks.",
    )
    schemas["notice.schema.json"] = _schema(
        "hotspots.notices",
        NoticeEvent,
        "One event of a notice to the units responsible for a hotspot flag: issued, raised, "
        "reminder, escalated, or an ack's action. Keyed by addressed_to[0] (the station; the "
        "district for an escalation); event_id is stable across replays.",
    )
    return schemas


def _render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in wire_schemas().items():
        path = directory / name
        path.write_text(_render(schema))
        written.append(path)
    return written


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of committed schema files that differ from what the types generate."""
    return [
        name
        for name, schema in wire_schemas().items()
        if not (directory / name).exists() or (directory / name).read_text() != _render(schema)
    ]
