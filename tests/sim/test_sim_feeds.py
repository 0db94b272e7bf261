"""The simulated feeds against the wire contract, the day rhythm, faults and reproducibility."""

import json
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pytest

from pipeline.alerts import SOURCE_CATEGORIES
from pipeline.geo.gcj02 import gcj02_to_wgs84
from pipeline.sim import (
    FaultRates,
    SimConfig,
    read_replay_jsonl,
    scale_for_total,
    simulate,
    write_replay_jsonl,
)

# The contract, spelled out independently of the generator.
SPEC = {
    "alerts.alarm_phone": dict(
        id="event_id",
        time="triggered_at",
        enum=("trigger", SOURCE_CATEGORIES["alarm_phone"]),
        required={
            "event_id": str,
            "device_id": str,
            "household_id": str,
            "trigger": str,
            "triggered_at": (str, int),
            "lat": float,
            "lon": float,
        },
        optional={"caller_phone": str, "address": str},
    ),
    "alerts.dispatch_110": dict(
        id="incident_id",
        time="received_at",
        enum=("category", SOURCE_CATEGORIES["dispatch_110"]),
        required={
            "incident_id": str,
            "received_at": (str, int),
            "category": str,
            "priority": int,
            "lat": float,
            "lon": float,
        },
        optional={"station_id": str, "caller_phone": str, "summary": str},
    ),
    "alerts.camera": dict(
        id="alert_id",
        time="detected_at",
        enum=("kind", SOURCE_CATEGORIES["camera"]),
        required={
            "alert_id": str,
            "camera_id": str,
            "detected_at": (str, int),
            "kind": str,
            "confidence": float,
            "lat": float,
            "lon": float,
        },
        optional={},
    ),
    "alerts.grid_report": dict(
        id="report_id",
        time="reported_at",
        enum=("category", SOURCE_CATEGORIES["grid_report"]),
        required={
            "report_id": str,
            "reporter_id": str,
            "reported_at": (str, int),
            "category": str,
            "status": str,
        },
        optional={"grid_code": str, "lat": float, "lon": float, "parent_report_id": str},
    ),
}
LATE_MS = 5 * 60_000


def event_ms(value):
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value).timestamp() * 1000)


def type_ok(value, want):
    if want is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, want) and not isinstance(value, bool)


def classify(records, bbox):
    """Fault class of every record, judged from the bytes alone (plus the record timestamp)."""
    lon0, lat0, lon1, lat1 = bbox
    seen: set[tuple[str, bytes]] = set()
    out = []
    for r in records:
        spec = SPEC[r.topic]
        try:
            obj = json.loads(r.value)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            out.append("malformed")
            continue
        if (r.topic, r.value) in seen:
            out.append("duplicate")
            continue
        seen.add((r.topic, r.value))
        fields = {**spec["required"], **spec["optional"]}
        if any(k not in obj for k in spec["required"]):
            out.append("missing_field")
        elif any(k in obj and not type_ok(obj[k], t) for k, t in fields.items()):
            out.append("wrong_type")
        elif obj[spec["enum"][0]] not in spec["enum"][1]:
            out.append("unknown_enum")
        elif "lat" in obj and not (
            lat0 - 0.05 < obj["lat"] < lat1 + 0.05 and lon0 - 0.05 < obj["lon"] < lon1 + 0.05
        ):
            out.append("out_of_area")
        elif event_ms(obj[spec["time"]]) > r.timestamp_ms + 86_400_000:
            out.append("future_time")
        elif datetime.fromisoformat("2001-01-02T00:00+08:00").timestamp() * 1000 > event_ms(
            obj[spec["time"]]
        ):
            out.append("past_time")
        elif r.timestamp_ms - event_ms(obj[spec["time"]]) >= LATE_MS:
            out.append("late")
        else:
            out.append("none")
    return out


def test_volumes_of_a_normal_day(day, day_records):
    by_topic = Counter(r.topic for r in day_records)
    assert 150 <= by_topic["alerts.alarm_phone"] <= 300
    assert 2_600 <= by_topic["alerts.dispatch_110"] <= 3_400
    assert 170_000 <= by_topic["alerts.camera"] <= 230_000
    assert 1_600 <= by_topic["alerts.grid_report"] <= 2_400
    assert by_topic == Counter(day.truth.messages)


def test_records_come_in_arrival_order(day_records):
    ts = np.array([r.timestamp_ms for r in day_records])
    assert (np.diff(ts) >= 0).all()


def test_fault_counts_match_the_output(city, day, day_records):
    got = Counter(classify(day_records, city.bbox()))
    truth = day.truth.faults
    assert set(truth) == set(got) - {"none"}
    for name, n in truth.items():
        assert got[name] == n, name
        assert 0.003 * len(day_records) < n < 0.007 * len(day_records)


def test_clean_messages_follow_the_contract(city, day_records):
    kinds = {t: Counter() for t in SPEC}
    for r, fault in zip(day_records, classify(day_records, city.bbox()), strict=True):
        if fault != "none":
            continue
        obj = json.loads(r.value)
        spec = SPEC[r.topic]
        assert set(obj) <= set(spec["required"]) | set(spec["optional"])
        kinds[r.topic][obj[spec["enum"][0]]] += 1
        assert r.key is None or r.key == obj[spec["id"]].encode()
        if r.topic == "alerts.dispatch_110":
            assert 1 <= obj["priority"] <= 4
        if r.topic == "alerts.camera":
            assert 0.0 <= obj["confidence"] <= 1.0
        if r.topic == "alerts.grid_report":
            assert "grid_code" in obj or "lat" in obj
            assert obj["status"] in ("reported", "dispatched", "resolved")
            assert ("parent_report_id" in obj) == (obj["status"] != "reported")
    for topic, spec in SPEC.items():
        assert set(kinds[topic]) == set(spec["enum"][1]) - {"offline", "online"} | (
            {"offline", "online"} if topic == "alerts.camera" else set()
        ), topic
    assert kinds["alerts.alarm_phone"]["tamper"] < kinds["alerts.alarm_phone"]["test"]
    top3 = {c for c, _ in kinds["alerts.dispatch_110"].most_common(3)}
    assert top3 == {"theft", "dispute", "traffic"}


def parsed(records, topic):
    out = []
    for r in records:
        if r.topic == topic:
            try:
                obj = json.loads(r.value)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def _hours(records, topic):
    hours = []
    for r in records:
        if r.topic == topic:
            try:
                obj = json.loads(r.value)
                t = event_ms(obj[SPEC[topic]["time"]])
            except (ValueError, KeyError, TypeError):
                continue
            if obj.get("status", "reported") == "reported":  # updates come at any hour
                hours.append(((t // 3_600_000) + 8) % 24)
    return np.bincount(hours, minlength=24)


def test_day_night_cycle(day_records):
    calls = _hours(day_records, "alerts.dispatch_110")
    assert calls[19:23].sum() > 3 * calls[2:6].sum()
    grid = _hours(day_records, "alerts.grid_report")
    assert grid[8:18].sum() > 0.85 * grid.sum()
    alarms = _hours(day_records, "alerts.alarm_phone")
    assert alarms[7:10].sum() > alarms[13:16].sum()  # morning test presses


def test_time_formats_are_mixed_as_configured(day_records):
    iso = Counter()
    for r in day_records[:20_000]:
        try:
            obj = json.loads(r.value)
        except ValueError:
            continue
        t = obj.get(SPEC[r.topic]["time"])
        iso[r.topic, isinstance(t, str)] += 1
        if isinstance(t, str) and t.startswith("2026"):
            assert t.endswith("+08:00") and len(t) == len("2026-03-01T21:14:03.250+08:00")
    assert iso["alerts.camera", True] == 0 and iso["alerts.dispatch_110", False] == 0


def test_camera_repeats_and_outages(day_records):
    cams = parsed(day_records, "alerts.camera")
    by_camera: dict[str, list] = {}
    for c in cams:
        if isinstance(c.get("detected_at"), int) and "camera_id" in c:
            by_camera.setdefault(c["camera_id"], []).append((c["detected_at"], c.get("kind")))
    rapid = offline = online = 0
    for events in by_camera.values():
        events.sort()
        for (t0, k0), (t1, k1) in zip(events, events[1:], strict=False):
            rapid += k0 == k1 and t1 - t0 < 60_000
        kinds = [k for _, k in events]
        offline += kinds.count("offline")
        online += kinds.count("online")
    assert rapid > 0.3 * len(cams)
    assert 300 < offline and 0.7 * offline < online <= offline + 10


def test_grid_status_updates_reference_their_report(day_records):
    reports = parsed(day_records, "alerts.grid_report")
    ids = {r.get("report_id") for r in reports}
    updates = [r for r in reports if r.get("status") in ("dispatched", "resolved")]
    assert len(updates) > 0.5 * (len(reports) - len(updates))
    for u in updates:
        if "parent_report_id" in u and "report_id" in u:
            suffix = "-2" if u["status"] == "dispatched" else "-3"
            assert u["report_id"] == u["parent_report_id"] + suffix
    linked = sum(u.get("parent_report_id") in ids for u in updates)
    assert linked > 0.95 * len(updates)


def test_same_seed_same_bytes_other_seed_differs(small_city, short_config):
    a = [tuple(r) for r in simulate(small_city, short_config).records()]
    b = [tuple(r) for r in simulate(small_city, short_config).records()]
    c = [
        tuple(r)
        for r in simulate(
            small_city, SimConfig(seed=10, duration=short_config.duration, scale=short_config.scale)
        ).records()
    ]
    assert a == b
    assert a != c


def test_jsonl_round_trip(small_city, short_config, tmp_path):
    sim = simulate(small_city, short_config)
    path = tmp_path / "replay.jsonl"
    n = write_replay_jsonl(sim.records(), path)
    back = list(read_replay_jsonl(path))
    assert n == len(sim) == len(back)
    assert back == list(sim.records())
    lines = path.read_text(encoding="utf-8").splitlines()
    raw = [json.loads(x) for x in lines if '"raw":true' in x]
    assert raw and all(isinstance(x["value"], str) for x in raw)
    assert all(isinstance(json.loads(x)["value"], dict) for x in lines if '"raw":true' not in x)


def test_gcj02_sources_are_shifted(small_city, short_config):
    cfg = SimConfig(
        seed=9,
        duration=timedelta(hours=2),
        scale=0.5,
        faults=FaultRates.none(),
        gcj02_sources=frozenset({"camera"}),
    )
    sim = simulate(small_city, cfg)
    cam_xy = dict(
        zip(
            small_city.cameras.camera_id.tolist(),
            zip(*small_city.to_latlon(small_city.cameras.xy), strict=True),
            strict=True,
        )
    )
    cams = [json.loads(r.value) for r in sim.records() if r.topic == "alerts.camera"][:500]
    lat = np.array([c["lat"] for c in cams])
    lon = np.array([c["lon"] for c in cams])
    true = np.array([cam_xy[c["camera_id"]] for c in cams])
    assert np.abs(lat - true[:, 0]).max() > 1e-3  # GCJ-02 is hundreds of metres off
    w_lat, w_lon = gcj02_to_wgs84(lat, lon)
    assert np.abs(w_lat - true[:, 0]).max() < 2e-6 and np.abs(w_lon - true[:, 1]).max() < 2e-6
    calls = [json.loads(r.value) for r in sim.records() if r.topic == "alerts.dispatch_110"]
    lon0, lat0, lon1, lat1 = small_city.bbox()
    assert all(lat0 <= c["lat"] <= lat1 for c in calls)


@pytest.mark.parametrize("hours", [4, 24])
def test_scale_for_total_hits_the_target(small_city, hours):
    scale = scale_for_total(40_000, timedelta(hours=hours))
    cfg = SimConfig(seed=2, duration=timedelta(hours=hours), scale=scale, n_hotspots=0)
    # The volume comes from the rates, not the city size (camera rates are per city).
    assert len(simulate(small_city, cfg)) == pytest.approx(40_000, rel=0.1)
