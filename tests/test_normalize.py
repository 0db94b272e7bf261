"""The normalise stage on a tiny hand-made city: datum, placement, time and area gates, dedupe,
pseudonyms and severity."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.alerts import CATEGORIES, SOURCE_CODE
from pipeline.deadletter import Reason
from pipeline.dedupe import DedupeIndex
from pipeline.feeds.severity import PRIORITY_FACTOR
from pipeline.geo.admin_units import load_registry
from pipeline.geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from pipeline.normalize import NormalizeContext, normalize
from pipeline.privacy import Pseudonymizer
from pipeline.settings import Area

NOW = 1_714_528_800_000  # the worker clock: 2024-05-01T02:00:00Z
KEY = b"normalize-test-key-0123456789abcdef"
HEX32 = re.compile(r"[0-9a-f]{32}")

# --- a 1 km x 1 km city in Shanghai: 1 district, 1 street, 2 communities, 4 grid cells -------
from tests.tiny_city import LAT0, LON0, STEP, tiny_city  # noqa: E402

REGISTRY = load_registry(tiny_city())
AREA = Area(min_lat=31.19, min_lon=121.39, max_lat=31.22, max_lon=121.42)
INSIDE = (31.2031, 121.4077)  # in C2G1


def make_ctx(**kw) -> NormalizeContext:
    args = {
        "registry": REGISTRY,
        "area": AREA,
        "dedupe": DedupeIndex(86_400_000),
        "pseudonymizer": Pseudonymizer(KEY),
        "clock_ms": lambda: NOW,
        "max_future_ms": 600_000,
        "max_age_ms": 7 * 86_400_000,
    }
    return NormalizeContext(**{**args, **kw})


def enc(obj) -> bytes:
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


def alarm(i, **kw) -> bytes:
    return enc(
        {
            "event_id": f"ev-{i}",
            "device_id": "dev-1",
            "household_id": "hh-1",
            "trigger": "panic",
            "triggered_at": NOW,
            "lat": INSIDE[0],
            "lon": INSIDE[1],
            "caller_phone": "13800138000",
            "address": "Room 301, 12 Example Rd",
            **kw,
        }
    )


def dispatch(i, **kw) -> bytes:
    return enc(
        {
            "incident_id": f"inc-{i}",
            "received_at": NOW,
            "category": "robbery",
            "priority": 1,
            "lat": INSIDE[0],
            "lon": INSIDE[1],
            "summary": "man with knife near the market",
            **kw,
        }
    )


def camera(i, **kw) -> bytes:
    return enc(
        {
            "alert_id": f"a-{i}",
            "camera_id": "cam-1",
            "detected_at": NOW,
            "kind": "fight",
            "confidence": 1.0,
            "lat": INSIDE[0],
            "lon": INSIDE[1],
            **kw,
        }
    )


def grid_report(i, **kw) -> bytes:
    return enc(
        {
            "report_id": f"r-{i}",
            "reporter_id": "w-1",
            "reported_at": NOW,
            "category": "dispute",
            "status": "reported",
            "lat": INSIDE[0],
            "lon": INSIDE[1],
            **kw,
        }
    )


def slots(batch) -> list[tuple[int, Reason]]:
    return [(r.index, r.reason) for r in batch.rejects]


# --- datum ----------------------------------------------------------------------------------


def test_gcj02_feed_comes_back_to_wgs84():
    lat = np.array([31.2012, 31.2088, 31.2049])
    lon = np.array([121.4011, 121.4093, 121.4043])
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    assert np.abs(g_lat - lat).max() > 1e-3  # the datum shift is real here (hundreds of metres)
    values = [
        camera(i, lat=float(a), lon=float(o))
        for i, (a, o) in enumerate(zip(g_lat, g_lon, strict=True))
    ]
    out = normalize("camera", values, make_ctx(gcj02_feeds=frozenset({"camera"})))
    np.testing.assert_allclose(out.alerts.lat, lat, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.alerts.lon, lon, rtol=0, atol=1e-6)
    assert out.alerts.grid.tolist() == REGISTRY.locate(lat, lon).tolist()
    # The same values on a feed configured WGS84 are taken as they are.
    plain = normalize("camera", values, make_ctx(gcj02_feeds=frozenset({"dispatch_110"})))
    assert plain.alerts.lat.tolist() == g_lat.tolist()


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    lat=st.floats(31.195, 31.215, allow_nan=False),
    lon=st.floats(121.395, 121.415, allow_nan=False),
    source=st.sampled_from(["alarm_phone", "dispatch_110", "camera", "grid_report"]),
)
def test_gcj02_round_trip_property(lat, lon, source):
    g_lat, g_lon = wgs84_to_gcj02(np.array([lat]), np.array([lon]))
    build = {
        "alarm_phone": alarm,
        "dispatch_110": dispatch,
        "camera": camera,
        "grid_report": grid_report,
    }[source]
    out = normalize(
        source,
        [build(0, lat=float(g_lat[0]), lon=float(g_lon[0]))],
        make_ctx(gcj02_feeds=frozenset({source})),
    )
    assert len(out.alerts) == 1
    assert abs(out.alerts.lat[0] - lat) < 1e-6 and abs(out.alerts.lon[0] - lon) < 1e-6


# --- grid reports that only name their cell -------------------------------------------------


def test_grid_report_with_only_grid_code_sits_at_the_cell_centroid():
    code = "C1G2"
    cell = int(REGISTRY.grid_index_of(np.array([code], dtype=object))[0])
    assert cell >= 0
    values = [
        grid_report(0, lat=..., lon=..., grid_code=code),
        grid_report(1, grid_code="C2G2"),  # has coordinates: they win over the code
        grid_report(2, lat=..., grid_code=code),
    ]  # half a coordinate is no coordinate
    out = normalize("grid_report", values, make_ctx(gcj02_feeds=frozenset({"grid_report"})))
    assert out.rejects == [] and out.index.tolist() == [0, 1, 2]
    assert out.alerts.lat[0] == REGISTRY.grid_centroid_lat[cell]
    assert out.alerts.lon[0] == REGISTRY.grid_centroid_lon[cell]
    assert out.alerts.grid[[0, 2]].tolist() == [cell, cell]
    # The feed is GCJ-02: given coordinates are converted, registry centroids are not.
    w_lat, w_lon = gcj02_to_wgs84(np.array([INSIDE[0]]), np.array([INSIDE[1]]))
    assert (out.alerts.lat[1], out.alerts.lon[1]) == (w_lat[0], w_lon[0])
    assert out.alerts.grid[1] == REGISTRY.locate(w_lat, w_lon)[0]
    assert out.extras["grid_code"].tolist() == [code, "C2G2", code]


def test_grid_report_with_unknown_or_no_grid_code_is_rejected():
    values = [
        grid_report(0, lat=..., lon=..., grid_code="NOPE"),
        grid_report(1),
        grid_report(2, lat=..., lon=...),
        grid_report(3, lat=..., lon=..., grid_code=""),
    ]
    out = normalize("grid_report", values, make_ctx())
    assert out.index.tolist() == [1]
    assert slots(out) == [
        (0, Reason.UNKNOWN_GRID_CODE),
        (2, Reason.UNKNOWN_GRID_CODE),
        (3, Reason.UNKNOWN_GRID_CODE),
    ]
    assert out.alert_ids_of_rejects == {
        0: "grid_report:r-0",
        2: "grid_report:r-2",
        3: "grid_report:r-3",
    }


# --- time and area gates --------------------------------------------------------------------


def test_future_stale_and_out_of_area_rejects_with_exact_slots():
    day = 86_400_000
    values = [
        dispatch(0),  # 0 good
        dispatch(1, received_at=NOW + 600_001),  # 1 future
        dispatch(2, received_at=NOW + 600_000),  # 2 exactly at the bound: kept
        dispatch(3, received_at=NOW - 7 * day - 1),  # 3 stale
        dispatch(4, received_at=NOW - 7 * day),  # 4 exactly at the bound: kept
        dispatch(5, lat=31.25),  # 5 out of area (north)
        b"{",  # 6 malformed
        dispatch(7, lon=121.38),  # 7 out of area (west)
        dispatch(8, lat=31.2199, lon=121.4199),  # 8 in the area, outside every grid cell
        dispatch(9, received_at="2024-05-01T10:20:00+08:00"),  # 9 20 min ahead: future
    ]
    out = normalize("dispatch_110", values, make_ctx())
    assert out.index.tolist() == [0, 2, 4, 8]
    assert out.source_id.tolist() == ["inc-0", "inc-2", "inc-4", "inc-8"]
    assert slots(out) == [
        (1, Reason.FUTURE_TIME),
        (3, Reason.STALE_TIME),
        (5, Reason.OUT_OF_AREA),
        (6, Reason.MALFORMED_JSON),
        (7, Reason.OUT_OF_AREA),
        (9, Reason.FUTURE_TIME),
    ]
    assert out.alert_ids_of_rejects == {
        1: "dispatch_110:inc-1",
        3: "dispatch_110:inc-3",
        5: "dispatch_110:inc-5",
        7: "dispatch_110:inc-7",
        9: "dispatch_110:inc-9",
    }
    assert out.alerts.grid.tolist()[-1] == -1
    assert out.alerts.alert_id.tolist() == [
        "dispatch_110:inc-0",
        "dispatch_110:inc-2",
        "dispatch_110:inc-4",
        "dispatch_110:inc-8",
    ]


def test_each_value_can_be_judged_by_its_own_clock():
    """A backfill passes one worker clock per value: the same event time is future for a value
    whose clock is early and fine for one whose clock is later (a malformed value between them
    keeps the slots aligned); the context's clock is not read."""
    day = 86_400_000
    ahead, behind = NOW + 600_001, NOW - 7 * day - 1
    values = [
        dispatch(0, received_at=ahead),
        b"{",
        dispatch(2, received_at=ahead),
        dispatch(3, received_at=behind),
        dispatch(4, received_at=behind),
    ]
    clocks = np.array([NOW, NOW, NOW + 1, NOW, NOW - 1], dtype=np.int64)

    def unreadable() -> int:
        raise AssertionError("the context clock must not be read when clocks are given")

    out = normalize("dispatch_110", values, make_ctx(clock_ms=unreadable), clocks)
    assert out.index.tolist() == [2, 4]
    assert slots(out) == [
        (0, Reason.FUTURE_TIME),
        (1, Reason.MALFORMED_JSON),
        (3, Reason.STALE_TIME),
    ]


def test_max_age_zero_accepts_old_history():
    old = dispatch(0, received_at=NOW - 400 * 86_400_000)
    assert normalize("dispatch_110", [old], make_ctx(max_age_ms=0)).index.tolist() == [0]
    assert slots(normalize("dispatch_110", [old], make_ctx())) == [(0, Reason.STALE_TIME)]


def test_registry_area_pads_the_registry_extent():
    from pipeline.normalize import registry_area

    area = registry_area(REGISTRY, 1000.0)
    assert area.min_lat == pytest.approx(LAT0 - 1000 / 111_195.0)
    assert area.max_lat == pytest.approx(LAT0 + 2 * STEP + 1000 / 111_195.0)
    assert area.min_lon < LON0 - 1000 / 111_195.0  # a degree of longitude is shorter
    assert area.contains(np.array([LAT0 - 0.008]), np.array([LON0])).tolist() == [True]
    assert area.contains(np.array([LAT0 - 0.01]), np.array([LON0])).tolist() == [False]


# --- duplicates -----------------------------------------------------------------------------


def test_duplicates_within_and_across_batches_are_dropped_and_counted():
    ctx = make_ctx()
    first = normalize("camera", [camera(1), camera(2), camera(1), camera(3), camera(2)], ctx)
    assert first.index.tolist() == [0, 1, 3]
    assert first.alerts.alert_id.tolist() == ["camera:a-1", "camera:a-2", "camera:a-3"]
    assert first.duplicates == 2 and first.rejects == []
    second = normalize("camera", [camera(3), camera(4), camera(1)], ctx)
    assert second.index.tolist() == [1] and second.duplicates == 2
    # Ids are per feed: the same source id on another feed is a different alert.
    other = normalize(
        "alarm_phone", [alarm(1), enc({**json.loads(alarm(2)), "event_id": "a-1"})], ctx
    )
    assert other.duplicates == 0 and len(other.alerts) == 2


def test_duplicate_that_is_also_rejected_counts_once_as_a_reject():
    ctx = make_ctx()
    out = normalize("camera", [camera(1), camera(1, lat=40.0)], ctx)
    assert out.index.tolist() == [0] and out.duplicates == 0
    assert slots(out) == [(1, Reason.OUT_OF_AREA)]


def test_past_the_horizon_an_id_is_accepted_again_pruned_or_not():
    ctx = make_ctx(dedupe=DedupeIndex(horizon_ms=60_000), max_age_ms=0)
    old = NOW - 3_600_000
    assert len(normalize("camera", [camera(1, detected_at=old)], ctx).alerts) == 1
    assert len(normalize("camera", [camera(2, detected_at=NOW)], ctx).alerts) == 1
    for prune in (False, True):  # pruning frees memory, it decides nothing
        if prune:
            ctx.dedupe.prune()
        again = normalize("camera", [camera(1, detected_at=old)], ctx)
        assert again.alerts.alert_id.tolist() == ["camera:a-1"] and again.duplicates == 0
        # a-2 is within the horizon of the newest event: still a duplicate
        assert normalize("camera", [camera(2)], ctx).duplicates == 1


# --- personal data --------------------------------------------------------------------------

CLEAR = [
    "dev-7",
    "hh-42",
    "13912345678",
    "139 1234 5678",
    "Room 301, 12 Example Rd",
    "man with knife",
]


def _all_strings(out) -> list[str]:
    strings = [str(v) for column in out.extras.values() for v in column.tolist()]
    strings += [str(v) for v in out.alerts.alert_id.tolist() + out.source_id.tolist()]
    strings += [r.detail for r in out.rejects] + list(out.alert_ids_of_rejects.values())
    strings += list(out.extras)
    return strings


def test_personal_fields_come_out_as_stable_keyed_pseudonyms():
    values = [
        alarm(0, device_id="dev-7", household_id="hh-42", caller_phone="13912345678"),
        alarm(1, device_id="dev-7", household_id="hh-42", caller_phone="139 1234 5678"),
        alarm(2, device_id="dev-8", household_id="hh-43", caller_phone=...),
    ]
    out = normalize("alarm_phone", values, make_ctx())
    assert set(out.extras) == {"device_id", "household_id", "caller_phone"}
    for name in ("device_id", "household_id"):
        column = out.extras[name].tolist()
        assert all(HEX32.fullmatch(v) for v in column), column
        assert column[0] == column[1] != column[2]
    phones = out.extras["caller_phone"].tolist()
    assert HEX32.fullmatch(phones[0]) and phones[0] == phones[1] and phones[2] is None
    # The field name salts the MAC: the same clear text in two fields gives two pseudonyms.
    same = normalize("alarm_phone", [alarm(5, device_id="x-1", household_id="x-1")], make_ctx())
    assert same.extras["device_id"][0] != same.extras["household_id"][0]

    stable = normalize("alarm_phone", values, make_ctx())
    other_key = normalize("alarm_phone", values, make_ctx(pseudonymizer=Pseudonymizer(b"k" * 32)))
    for name in out.extras:
        assert stable.extras[name].tolist() == out.extras[name].tolist()
        assert [v for v in other_key.extras[name].tolist() if v is not None]
        assert not set(other_key.extras[name].tolist()) - {None} & set(out.extras[name].tolist())


def test_no_clear_personal_value_or_free_text_anywhere_in_the_output():
    alarms = [
        alarm(0, device_id="dev-7", household_id="hh-42", caller_phone="13912345678"),
        alarm(1, caller_phone="139 1234 5678", lat=45.0),  # rejected, out of area
        alarm(2, caller_phone="139 1234 5678", trigger=3),
    ]  # rejected, wrong type
    dispatches = [
        dispatch(0, caller_phone="13912345678", summary="man with knife"),
        dispatch(1, caller_phone="13912345678", priority=9),
    ]
    outs = [
        normalize("alarm_phone", alarms, make_ctx()),
        normalize("dispatch_110", dispatches, make_ctx()),
    ]
    assert "caller_phone" in outs[1].extras and "summary" not in outs[1].extras
    for out in outs:
        assert "address" not in out.extras and "summary" not in out.extras
        strings = _all_strings(out)
        for clear in CLEAR:
            assert not any(clear in s for s in strings), (clear, out.source)
    assert "Room 301" not in repr(outs[0].alerts) and "knife" not in repr(outs[1].alerts)


# --- severity -------------------------------------------------------------------------------


def test_alarm_self_test_and_camera_health_events_weigh_nothing():
    a = normalize("alarm_phone", [alarm(0, trigger="test"), alarm(1, trigger="panic")], make_ctx())
    assert a.alerts.severity.tolist()[0] == 0.0 and a.alerts.severity[1] > 0
    c = normalize(
        "camera",
        [camera(0, kind="offline"), camera(1, kind="online"), camera(2, kind="fight")],
        make_ctx(),
    )
    assert c.alerts.severity.tolist()[:2] == [0.0, 0.0] and c.alerts.severity[2] > 0
    assert c.alerts.severity.dtype == np.float32


def test_110_priority_scales_severity():
    values = [dispatch(p, priority=p) for p in (1, 2, 3, 4)]
    sev = normalize("dispatch_110", values, make_ctx()).alerts.severity
    assert sev[0] > sev[1] > sev[2] > sev[3] > 0
    np.testing.assert_allclose(sev / sev[0], PRIORITY_FACTOR[1:] / PRIORITY_FACTOR[1], rtol=1e-6)


def test_camera_confidence_and_grid_report_status_scale_severity():
    c = normalize(
        "camera",
        [camera(0, confidence=1.0), camera(1, confidence=0.5), camera(2, confidence=0.0)],
        make_ctx(),
    ).alerts.severity
    assert c[1] == pytest.approx(c[0] / 2) and c[2] == 0.0
    g = normalize(
        "grid_report",
        [
            grid_report(0),
            grid_report(1, status="dispatched"),
            grid_report(2, status="resolved"),
            grid_report(3, status="made-up"),
        ],
        make_ctx(),
    )
    assert g.alerts.severity[0] > 0 and g.alerts.severity[1:3].tolist() == [0.0, 0.0]
    assert g.alerts.severity[3] == g.alerts.severity[0]  # unknown status counts as reported
    assert g.unknown_enum == 1


def test_unknown_enum_is_counted_and_category_is_other():
    out = normalize("camera", [camera(0, kind="smoke"), camera(1)], make_ctx())
    assert [CATEGORIES[c] for c in out.alerts.category] == ["other", "fight"]
    assert out.unknown_enum == 1
    assert out.alerts.source.tolist() == [SOURCE_CODE["camera"]] * 2


@pytest.mark.parametrize("source", ["alarm_phone", "dispatch_110", "camera", "grid_report"])
def test_empty_and_all_rejected_batches(source):
    for values in ([], [b"{", b"[]"]):
        out = normalize(source, values, make_ctx())
        assert len(out.alerts) == 0 and out.duplicates == 0
        assert [r.index for r in out.rejects] == list(range(len(values)))
