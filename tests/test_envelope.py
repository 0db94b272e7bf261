"""The envelope records of alerts.normalized: encode → decode keeps the alert columns, names
units by code, follows the published schema, and reports records that are not envelopes."""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pyarrow as pa

from pipeline.alerts import AlertBatch
from pipeline.deadletter import Reason
from pipeline.dedupe import DedupeIndex
from pipeline.envelope import (
    ENVELOPE_SCHEMA,
    NormalizedAlert,
    decode_envelopes,
    encode_envelopes,
    envelope_table,
    read_envelopes,
    rows_as_json,
)
from pipeline.geo.admin_units import load_registry
from pipeline.marks import NO_PROGRESS, Origins
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


def round_trip(out, halo=None, origins=None):
    rows = np.arange(len(out.alerts))
    halo = np.zeros(len(rows), bool) if halo is None else halo
    tiles = np.array([f"{i}:0".encode() for i in rows])
    values = encode_envelopes(envelope_table(out, REGISTRY), rows, tiles, halo, origins=origins)
    decoded, bad = decode_envelopes(values, REGISTRY)
    assert bad == []
    return values, decoded


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
        enc(
            {
                "incident_id": "i1",
                "received_at": NOW,
                "category": "theft",
                "priority": 3,
                "lat": 31.2031,
                "lon": 121.4012,
                "caller_phone": "13800138000",
            }
        ),  # C1G1
        enc(
            {
                "incident_id": "i2",
                "received_at": "2024-05-01T10:00:01.5+08:00",
                "category": "assault",
                "priority": 1,
                "lat": 31.2071,
                "lon": 121.4071,
                "station_id": "PS77",
            }
        ),  # C2G2, CAD station wins over the registry's PS2
        enc(
            {
                "incident_id": "i3",
                "received_at": NOW - 5,
                "category": "fraud",
                "priority": 2,
                "lat": 31.2171,
                "lon": 121.4171,
            }
        ),  # in the area, in no cell
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
        ("C1G1", "C1", "S1", "D1"),
        ("C2G2", "C2", "S1", "D1"),
        (None, None, None, None),
    ]
    assert [x.station_id for x in e] == ["PS1", "PS77", None]
    assert [x.priority for x in e] == [3, 1, 2]
    assert e[0].caller == out.extras["caller_phone"][0] and len(e[0].caller) == 32
    assert e[1].caller is None
    assert e[1].event_ms == NOW + 1500
    assert [x.source for x in e] == ["dispatch_110"] * 3
    assert [x.category for x in e] == ["theft", "assault", "fraud"]


def test_absent_optional_fields_are_null():
    values = [
        enc(
            {
                "incident_id": "i1",
                "received_at": NOW,
                "category": "theft",
                "priority": 3,
                "lat": 31.2171,
                "lon": 121.4171,
            }
        )
    ]  # no cell, no phone, no CAD station
    raw, _ = round_trip(normalize("dispatch_110", values, ctx()))
    (row,) = pa.ipc.open_stream(raw[0]).read_all().to_pylist()
    assert {k for k, v in row.items() if v is not None} == {
        "alert_id",
        "source",
        "source_id",
        "event_ms",
        "lat",
        "lon",
        "category",
        "severity",
        "tile",
        "halo",
        "origin",
        "priority",
    }
    assert row["alert_id"] == "dispatch_110:i1" and row["event_ms"] == NOW
    table = pa.ipc.open_stream(raw[0]).read_all()
    assert json.loads(rows_as_json(table, [0])[0])["alert_id"] == "dispatch_110:i1"


def test_halo_round_trips():
    values = [
        enc(
            {
                "alert_id": "a1",
                "camera_id": "c1",
                "detected_at": NOW,
                "kind": "crowd",
                "confidence": 0.3,
                "lat": 31.2031,
                "lon": 121.4012,
            }
        )
    ]
    out = normalize("camera", values, ctx())
    _, plain = round_trip(out)
    _, copy = round_trip(out, halo=np.array([True]))
    assert plain.halo.tolist() == [False] and copy.halo.tolist() == [True]


def test_origins_round_trip_and_are_zero_and_unknown_when_not_given():
    values = [
        enc(
            {
                "alert_id": f"a{i}",
                "camera_id": "c1",
                "detected_at": NOW + i,
                "kind": "crowd",
                "confidence": 0.3,
                "lat": 31.2031,
                "lon": 121.4012,
            }
        )
        for i in range(3)
    ]
    out = normalize("camera", values, ctx())
    _, plain = round_trip(out)
    raw, given = round_trip(
        out, origins=Origins(np.array([9, 2, 9]), np.array([7, NO_PROGRESS, 8]))
    )
    assert plain.origins.origin.tolist() == [0, 0, 0]
    assert plain.origins.progress_ms.tolist() == [NO_PROGRESS] * 3
    assert given.origins.origin.tolist() == [9, 2, 9]
    assert given.origins.progress_ms.tolist() == [7, NO_PROGRESS, 8]
    # unknown travels as null, not as a number a reader could take for a time
    column = pa.ipc.open_stream(raw[0]).read_all().column("origin_progress_ms")
    assert column.to_pylist() == [7, None, 8]


def test_records_have_exactly_the_published_schema():
    """``schemas/wire/normalized.arrow.json`` describes ENVELOPE_SCHEMA: what is written is it."""
    values = [
        enc(
            {
                "alert_id": "a1",
                "camera_id": "c1",
                "detected_at": NOW,
                "kind": "crowd",
                "confidence": 0.3,
                "lat": 31.2031,
                "lon": 121.4012,
            }
        )
    ]
    raw, _ = round_trip(normalize("camera", values, ctx()))
    assert pa.ipc.open_stream(raw[0]).schema.equals(ENVELOPE_SCHEMA, check_metadata=True)


def test_every_feed_round_trips():
    feeds = {
        "alarm_phone": [
            enc(
                {
                    "event_id": "e1",
                    "device_id": "d1",
                    "household_id": "h1",
                    "trigger": "tamper",
                    "triggered_at": NOW,
                    "lat": 31.2071,
                    "lon": 121.4021,
                    "address": "secret address",
                }
            )
        ],
        "camera": [
            enc(
                {
                    "alert_id": "a1",
                    "camera_id": "cam-9",
                    "detected_at": NOW,
                    "kind": "loitering",
                    "confidence": 0.37,
                    "lat": 31.2031,
                    "lon": 121.4071,
                }
            )
        ],
        "grid_report": [
            enc(
                {
                    "report_id": "r1",
                    "reporter_id": "w1",
                    "reported_at": NOW,
                    "category": "fire_hazard",
                    "status": "reported",
                    "grid_code": "C1G2",
                }
            ),
            enc(
                {
                    "report_id": "r2",
                    "reporter_id": "w1",
                    "reported_at": NOW,
                    "category": "fire_hazard",
                    "status": "resolved",
                    "grid_code": "C1G2",
                    "parent_report_id": "r1",
                }
            ),
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
    # float32, rounded to 4 decimals first
    assert cam.severity == float(np.float32(round(float(outs["camera"].alerts.severity[0]), 4)))
    reports = read_envelopes(round_trip(outs["grid_report"])[0])
    assert [(r.status, r.report_ref, r.reporter_id, r.grid) for r in reports] == [
        ("reported", "r1", "w1", "C1G2"),
        ("resolved", "r1", "w1", "C1G2"),
    ]
    assert reports[1].severity == 0.0


def cameras(n: int) -> list[bytes]:
    return [
        enc(
            {
                "alert_id": f"a{i}",
                "camera_id": "c",
                "detected_at": NOW + i,
                "kind": "fight",
                "confidence": 0.5,
                "lat": 31.2031,
                "lon": 121.4012,
            }
        )
        for i in range(n)
    ]


def test_rows_may_repeat_for_halo_copies():
    out = normalize("camera", cameras(3), ctx())
    rows = np.array([0, 2, 2])
    raw = encode_envelopes(
        envelope_table(out, REGISTRY),
        rows,
        np.array([b"0:0", b"0:0", b"1:0"]),
        np.array([False, False, True]),
    )
    back, _ = decode_envelopes(raw, REGISTRY)
    assert back.alerts.alert_id.tolist() == ["camera:a0", "camera:a2", "camera:a2"]
    assert back.halo.tolist() == [False, False, True]
    assert back.alerts.event_ms.tolist() == [NOW, NOW + 2, NOW + 2]
    assert [e.tile for e in read_envelopes(raw)] == ["0:0", "0:0", "1:0"]


def test_large_batches_are_cut_into_records_in_order():
    out = normalize("camera", cameras(500), ctx())
    rows = np.arange(500)[::-1]
    raw = encode_envelopes(
        envelope_table(out, REGISTRY),
        rows,
        np.full(500, b"0:0"),
        np.zeros(500, bool),
        max_bytes=4096,
    )
    assert len(raw) > 5 and all(len(v) < 3 * 4096 for v in raw)
    back, _ = decode_envelopes(raw, REGISTRY)
    assert back.alerts.alert_id.tolist() == [f"camera:a{i}" for i in rows]
    assert np.all(np.diff(back.record) >= 0) and back.record[-1] == len(raw) - 1


def test_rows_as_json_across_records_with_their_own_dictionaries():
    """A dead letter's row is taken from its records' tables end to end; each record has its
    own dictionaries, so one code names different tiles in each."""
    table = envelope_table(normalize("camera", cameras(4), ctx()), REGISTRY)
    (first,) = encode_envelopes(
        table, np.array([0, 1]), np.array([b"0:0", b"1:0"]), np.zeros(2, bool)
    )
    (second,) = encode_envelopes(
        table, np.array([2, 3]), np.array([b"2:0", b"0:0"]), np.zeros(2, bool)
    )
    both = pa.concat_tables([pa.ipc.open_stream(v).read_all() for v in (first, second)])
    rows = [json.loads(v) for v in rows_as_json(both, [2, 1, 3, 1])]
    assert [(r["alert_id"], r["tile"]) for r in rows] == [
        ("camera:a2", "2:0"),
        ("camera:a1", "1:0"),
        ("camera:a3", "0:0"),
        ("camera:a1", "1:0"),
    ]
    assert {r["source"] for r in rows} == {"camera"} and "halo" in rows[0]


def test_a_record_carries_only_the_unit_codes_it_uses():
    """A record's dictionaries are cut to its rows' codes, not the whole registry's."""
    table = envelope_table(normalize("camera", cameras(3), ctx()), REGISTRY)
    codes = pa.array([f"G{i:04d}" for i in range(1000)])
    big = pa.DictionaryArray.from_arrays(pa.array([7, None, 912], pa.int32()), codes)
    table = table.set_column(
        table.schema.get_field_index("grid"), table.schema.field("grid"), pa.chunked_array([big])
    )
    (raw,) = encode_envelopes(table, np.arange(3), np.full(3, b"0:0"), np.zeros(3, bool))
    grid = pa.ipc.open_stream(raw).read_all().column("grid").chunk(0)
    assert grid.to_pylist() == ["G0007", None, "G0912"]
    assert grid.dictionary.to_pylist() == ["G0007", "G0912"]


def test_records_that_are_not_envelopes_are_reported_and_the_rest_decoded():
    out = normalize("camera", cameras(2), ctx())
    good = encode_envelopes(
        envelope_table(out, REGISTRY), np.arange(2), np.full(2, b"0:0"), np.zeros(2, bool)
    )
    legacy = msgspec.json.encode(
        NormalizedAlert(
            alert_id="camera:x",
            source="camera",
            source_id="x",
            event_ms=5,
            lat=31.2031,
            lon=121.4012,
            category="fight",
            severity=0.1,
            tile="0:0",
        )
    )
    table = pa.ipc.open_stream(good[0]).read_all()
    wrong_type = _ipc(table.set_column(3, "event_ms", table.column("event_ms").cast(pa.float64())))
    renamed = pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int8()), pa.array(["fax"]))
    unknown = _ipc(table.set_column(1, "source", renamed))
    back, bad = decode_envelopes([legacy, *good, wrong_type, unknown], REGISTRY)
    assert back.alerts.alert_id.tolist() == ["camera:a0", "camera:a1"]
    assert back.record.tolist() == [1, 1]
    assert [(r.index, r.reason) for r in bad] == [
        (0, Reason.MALFORMED_RECORD),
        (2, Reason.INVALID_VALUE),
        (3, Reason.INVALID_VALUE),
    ]
    assert "not an Arrow IPC stream" in bad[0].detail
    assert "event_ms is double, expected int64" in bad[1].detail
    assert "unknown source 'fax'" in bad[2].detail


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_decode_of_nothing():
    empty, bad = decode_envelopes([], REGISTRY)
    assert len(empty.alerts) == 0 and len(empty.halo) == 0 and bad == []
    assert read_envelopes([]) == []


def test_records_written_with_zstd_before_lz4_decode_to_the_same_columns():
    """Records are LZ4 since 2026-12-06 (CPU, benchmarks/README.md); a log written with ZSTD
    still re-correlates: both decode to the same alerts, halo flags and origins."""
    out = normalize("camera", cameras(50), ctx())
    rows = np.arange(50)
    halo = np.arange(50) % 3 == 0
    origins = Origins(np.arange(50) % 4, np.full(50, NOW))
    args = (envelope_table(out, REGISTRY), rows, np.full(50, b"0:0"), halo)
    lz4 = encode_envelopes(*args, origins=origins)
    zstd_options = pa.ipc.IpcWriteOptions(compression="zstd")
    zstd = []
    for value in lz4:  # the same batches, written as the worker did before
        table = pa.ipc.open_stream(value).read_all()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=zstd_options) as writer:
            writer.write_table(table)
        zstd.append(sink.getvalue().to_pybytes())
    assert lz4 != zstd
    a, bad_a = decode_envelopes(lz4, REGISTRY)
    b, bad_b = decode_envelopes(zstd, REGISTRY)
    assert bad_a == bad_b == []
    assert_same_alerts(a.alerts, b.alerts)
    assert a.halo.tolist() == b.halo.tolist() == halo.tolist()
    assert a.origins.origin.tolist() == b.origins.origin.tolist()
    assert read_envelopes(lz4) == read_envelopes(zstd)
