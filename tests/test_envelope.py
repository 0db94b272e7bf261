"""The normalised envelope: encode → decode keeps the alert columns and names units by code."""

from __future__ import annotations

import json

import numpy as np

from pipeline.alerts import CATEGORY_CODE, SOURCE_CODE, AlertBatch
from pipeline.dedupe import DedupeIndex
from pipeline.envelope import (
    NormalizedAlert,
    decode_envelopes,
    encode_envelopes,
    read_envelopes,
)
from pipeline.geo.admin_units import load_registry
from pipeline.normalize import NormalizeContext, normalize
from pipeline.privacy import Pseudonymizer
from pipeline.settings import Area

NOW = 1_714_528_800_000
from tests.tiny_city import tiny_city  # noqa: E402

REGISTRY = load_registry(tiny_city(second_station=True))


def ctx() -> NormalizeContext:
    return NormalizeContext(
        registry=REGISTRY,
        area=Area(min_lat=31.19, min_lon=121.39, max_lat=31.22, max_lon=121.42),
        dedupe=DedupeIndex(86_400_000),
        pseudonymizer=Pseudonymizer(b"envelope-test-key-0123456789"),
        clock_ms=lambda: NOW,
    )


def enc(obj) -> bytes:
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


def round_trip(out, halo=None):
    rows = np.arange(len(out.alerts))
    halo = np.zeros(len(rows), bool) if halo is None else halo
    tiles = np.array([f"{i}:0" for i in rows], dtype=object)
    values = encode_envelopes(out.alerts, out.source_id, out.extras, REGISTRY, rows, tiles, halo)
    return values, decode_envelopes(values, REGISTRY)


def assert_same_alerts(a: AlertBatch, b: AlertBatch) -> None:
    assert b.alert_id.tolist() == a.alert_id.tolist()
    assert b.source.tolist() == a.source.tolist() and b.source.dtype == np.int8
    assert b.event_ms.tolist() == a.event_ms.tolist() and b.event_ms.dtype == np.int64
    assert b.lat.tolist() == a.lat.tolist() and b.lon.tolist() == a.lon.tolist()
    assert b.category.tolist() == a.category.tolist() and b.category.dtype == np.int16
    np.testing.assert_allclose(b.severity, a.severity, rtol=0, atol=1e-4)
    assert b.severity.dtype == np.float32
    assert b.grid.tolist() == a.grid.tolist()


def test_dispatch_round_trip_with_units_and_station():
    values = [
        enc({"incident_id": "i1", "received_at": NOW, "category": "theft", "priority": 3,
             "lat": 31.2031, "lon": 121.4012, "caller_phone": "13800138000"}),  # C1G1
        enc({"incident_id": "i2", "received_at": "2024-05-01T10:00:01.5+08:00",
             "category": "assault", "priority": 1, "lat": 31.2071, "lon": 121.4071,
             "station_id": "PS77"}),  # C2G2, CAD station wins over the registry's PS2
        enc({"incident_id": "i3", "received_at": NOW - 5, "category": "fraud", "priority": 2,
             "lat": 31.2171, "lon": 121.4171}),  # in the area, in no cell
    ]
    out = normalize("dispatch_110", values, ctx())
    assert len(out.alerts) == 3
    raw, back = round_trip(out, halo=np.array([False, True, False]))
    assert_same_alerts(out.alerts, back.alerts)
    assert back.halo.tolist() == [False, True, False]
    e = read_envelopes(raw)
    assert [x.source_id for x in e] == ["i1", "i2", "i3"]
    assert [x.tile for x in e] == ["0:0", "1:0", "2:0"]
    assert [(x.grid, x.community, x.street, x.district) for x in e] == [
        ("C1G1", "C1", "S1", "D1"), ("C2G2", "C2", "S1", "D1"), (None, None, None, None)
    ]
    assert [x.station_id for x in e] == ["PS1", "PS77", None]
    assert [x.priority for x in e] == [3, 1, 2]
    assert e[0].caller == out.extras["caller_phone"][0] and len(e[0].caller) == 32
    assert e[1].caller is None
    assert e[1].event_ms == NOW + 1500
    assert [x.source for x in e] == ["dispatch_110"] * 3
    assert [x.category for x in e] == ["theft", "assault", "fraud"]


def test_optional_fields_are_absent_from_the_json():
    values = [enc({"incident_id": "i1", "received_at": NOW, "category": "theft", "priority": 3,
                   "lat": 31.2171, "lon": 121.4171})]  # no cell, no phone, no CAD station
    raw, _ = round_trip(normalize("dispatch_110", values, ctx()))
    obj = json.loads(raw[0])
    assert set(obj) == {"alert_id", "source", "source_id", "event_ms", "lat", "lon", "category",
                        "severity", "tile", "priority"}
    assert obj["alert_id"] == "dispatch_110:i1" and obj["event_ms"] == NOW


def test_halo_is_written_only_when_true():
    values = [enc({"alert_id": "a1", "camera_id": "c1", "detected_at": NOW, "kind": "crowd",
                   "confidence": 0.3, "lat": 31.2031, "lon": 121.4012})]
    out = normalize("camera", values, ctx())
    plain, _ = round_trip(out)
    copy, back = round_trip(out, halo=np.array([True]))
    assert "halo" not in json.loads(plain[0]) and json.loads(copy[0])["halo"] is True
    assert back.halo.tolist() == [True]


def test_every_feed_round_trips():
    feeds = {
        "alarm_phone": [enc({"event_id": "e1", "device_id": "d1", "household_id": "h1",
                             "trigger": "tamper", "triggered_at": NOW, "lat": 31.2071,
                             "lon": 121.4021, "address": "secret address"})],
        "camera": [enc({"alert_id": "a1", "camera_id": "cam-9", "detected_at": NOW,
                        "kind": "loitering", "confidence": 0.37, "lat": 31.2031,
                        "lon": 121.4071})],
        "grid_report": [
            enc({"report_id": "r1", "reporter_id": "w1", "reported_at": NOW,
                 "category": "fire_hazard", "status": "reported", "grid_code": "C1G2"}),
            enc({"report_id": "r2", "reporter_id": "w1", "reported_at": NOW,
                 "category": "fire_hazard", "status": "resolved", "grid_code": "C1G2",
                 "parent_report_id": "r1"}),
        ],
    }
    outs = {source: normalize(source, values, ctx()) for source, values in feeds.items()}
    for out in outs.values():
        raw, back = round_trip(out)
        assert_same_alerts(out.alerts, back.alerts)
        assert all(b"secret" not in v for v in raw)
    (alarm,) = read_envelopes(round_trip(outs["alarm_phone"])[0])
    assert alarm.device == outs["alarm_phone"].extras["device_id"][0] and len(alarm.device) == 32
    assert alarm.household == outs["alarm_phone"].extras["household_id"][0]
    assert alarm.caller is None and alarm.grid == "C1G2"
    (cam,) = read_envelopes(round_trip(outs["camera"])[0])
    assert (cam.camera_id, cam.confidence, cam.grid) == ("cam-9", 0.37, "C2G1")
    assert cam.severity == round(float(outs["camera"].alerts.severity[0]), 4)
    reports = read_envelopes(round_trip(outs["grid_report"])[0])
    assert [(r.status, r.report_ref, r.reporter_id, r.grid) for r in reports] == [
        ("reported", "r1", "w1", "C1G2"), ("resolved", "r1", "w1", "C1G2")
    ]
    assert reports[1].severity == 0.0


def test_rows_may_repeat_for_halo_copies():
    values = [enc({"alert_id": f"a{i}", "camera_id": "c", "detected_at": NOW + i, "kind": "fight",
                   "confidence": 0.5, "lat": 31.2031, "lon": 121.4012}) for i in range(3)]
    out = normalize("camera", values, ctx())
    rows = np.array([0, 2, 2])
    raw = encode_envelopes(out.alerts, out.source_id, out.extras, REGISTRY, rows,
                           np.array(["0:0", "0:0", "1:0"], dtype=object),
                           np.array([False, False, True]))
    back = decode_envelopes(raw, REGISTRY)
    assert back.alerts.alert_id.tolist() == ["camera:a0", "camera:a2", "camera:a2"]
    assert back.halo.tolist() == [False, False, True]
    assert back.alerts.event_ms.tolist() == [NOW, NOW + 2, NOW + 2]


def test_decode_of_a_hand_written_envelope_and_of_nothing():
    value = NormalizedAlert(
        alert_id="camera:x", source="camera", source_id="x", event_ms=5, lat=31.2031,
        lon=121.4012, category="fight", severity=0.12345, tile="0:0", grid="C1G1",
    )
    import msgspec

    back = decode_envelopes([msgspec.json.encode(value)], REGISTRY)
    assert back.alerts.source.tolist() == [SOURCE_CODE["camera"]]
    assert back.alerts.category.tolist() == [CATEGORY_CODE["fight"]]
    assert back.alerts.grid.tolist() == REGISTRY.grid_index_of(np.array(["C1G1"], object)).tolist()
    empty = decode_envelopes([], REGISTRY)
    assert len(empty.alerts) == 0 and len(empty.halo) == 0 and read_envelopes([]) == []
