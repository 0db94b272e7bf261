"""Incident linking (union-find over spatial-hash pairs) and the incident records."""

from __future__ import annotations

import jsonschema
import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.alerts import AlertBatch
from pipeline.correlate.incidents.incident import (
    Incident,
    build_incidents,
    incident_id,
    incident_schema,
    link_components,
)
from pipeline.correlate.window.buffer import alert_keys

from ..helpers import MIN, PROJECTION, T0, make_batch


def reference_roots(x, y, t, r, gap):
    """Components by brute force: the smallest index of each connected component."""
    n = len(x)
    d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
    adj = (d2 <= r * r) & (np.abs(t[:, None] - t[None, :]) <= gap)
    _, labels = connected_components(coo_matrix(adj), directed=False)
    first = {lab: np.flatnonzero(labels == lab).min() for lab in np.unique(labels)}
    return np.array([first[lab] for lab in labels]) if n else np.empty(0, np.int64)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 80))
def test_components_match_brute_force(seed, n):
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 800, n), -1)  # round: many exact-distance ties
    y = np.round(rng.uniform(0, 800, n), -1)
    t = rng.integers(0, 40, n) * MIN
    roots = link_components(x, y, t, 150.0, 10 * MIN)
    np.testing.assert_array_equal(roots, reference_roots(x, y, t, 150.0, 10 * MIN))


def rows_of(batch):
    x, y = PROJECTION.to_xy(batch.lat, batch.lon)
    order = np.lexsort((alert_keys(batch.alert_id), batch.event_ms))
    cols = {
        "x": x,
        "y": y,
        "key": alert_keys(batch.alert_id),
        "alert_id": batch.alert_id,
        "source": batch.source,
        "event_ms": batch.event_ms,
        "category": batch.category,
        "severity": batch.severity,
        "grid": batch.grid,
    }
    return {k: np.asarray(v)[order] for k, v in cols.items()}


def scene():
    """A camera firing 5 times at one object, a 110 call about it, an alarm 1 km away."""
    camera = make_batch(
        np.full(5, 10.0),
        np.full(5, 20.0),
        T0 + np.arange(5) * 3000,
        ids=[f"camera:c7-{i}" for i in range(5)],
        source="camera",
        category="loitering",
        severity=0.3,
        grid=4,
    )
    call = make_batch(
        [110.0],
        [20.0],
        [T0 + 2 * MIN],
        ids=["dispatch_110:88"],
        source="dispatch_110",
        category="dispute",
        severity=0.6,
        grid=5,
    )
    alarm = make_batch(
        [1010.0],
        [20.0],
        [T0 + 1 * MIN],
        ids=["alarm_phone:3"],
        source="alarm_phone",
        category="panic",
        severity=0.9,
        grid=9,
    )
    return rows_of(AlertBatch.concat([camera, call, alarm]))


def test_camera_repeats_and_corroborating_call_form_one_incident():
    rows = scene()
    roots = link_components(rows["x"], rows["y"], rows["event_ms"], 150.0, 10 * MIN)
    boundary = T0 + 13 * MIN  # both components ended more than 10 min before
    consumed, incidents = build_incidents(rows, roots, boundary, 10 * MIN, PROJECTION)
    assert consumed.all()
    assert [i.n_alerts for i in incidents] == [6, 1]
    first, alarm = incidents
    assert first.incident_id == incident_id("camera:c7-0")
    assert (first.first_event_ms, first.last_event_ms) == (T0, T0 + 2 * MIN)
    assert first.source_counts == {"dispatch_110": 1, "camera": 5}
    assert first.category_counts == {"dispute": 1, "loitering": 5}
    assert (first.n_sources, first.max_severity, first.boundary_ms) == (2, 0.6, boundary)
    assert first.grid == 4  # the camera alerts lie nearest the centroid (x = 26.7 m)
    cx, cy = PROJECTION.to_xy(np.array([first.lat]), np.array([first.lon]))
    assert cx[0] == pytest.approx((5 * 10.0 + 110.0) / 6, abs=1e-6)
    assert cy[0] == pytest.approx(20.0, abs=1e-6)
    assert alarm.incident_id == incident_id("alarm_phone:3") and alarm.n_sources == 1


def test_incident_that_may_still_grow_is_held_back():
    rows = scene()
    roots = link_components(rows["x"], rows["y"], rows["event_ms"], 150.0, 10 * MIN)
    # The alarm (T0+1min) is final at T0+12min, the camera incident (until T0+2min) is not.
    consumed, incidents = build_incidents(rows, roots, T0 + 12 * MIN, 10 * MIN, PROJECTION)
    assert [i.incident_id for i in incidents] == [incident_id("alarm_phone:3")]
    assert consumed.tolist() == [a == "alarm_phone:3" for a in rows["alert_id"]]


def test_json_round_trip_and_schema():
    rows = scene()
    roots = link_components(rows["x"], rows["y"], rows["event_ms"], 150.0, 10 * MIN)
    _, incidents = build_incidents(rows, roots, T0 + 13 * MIN, 10 * MIN, PROJECTION)
    schema = incident_schema()
    for inc in incidents:
        doc = msgspec.json.decode(inc.to_json())
        jsonschema.validate(doc, schema)
        assert msgspec.json.decode(inc.to_json(), type=Incident) == inc


def test_incident_id_is_a_pure_function_of_the_first_alert():
    assert incident_id("camera:1") == incident_id("camera:1") != incident_id("camera:2")
    assert incident_id("camera:1").startswith("inc-") and len(incident_id("camera:1")) == 20


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(1, 5))
def test_incidents_of_many_boundaries_at_once_equal_one_call_per_boundary(seed, n, n_bounds):
    """The engine builds the incidents of every boundary one call closed at once, each
    component with its own boundary: the same incidents, in the same order, as building them
    boundary by boundary (what it did before)."""
    rng = np.random.default_rng(seed)
    batch = make_batch(
        np.round(rng.uniform(0, 3000, n), -1),
        np.round(rng.uniform(0, 3000, n), -1),
        T0 + rng.integers(0, 40, n) * MIN,
        ids=[f"camera:{seed % 97}-{i}" for i in range(n)],
        source=str(rng.choice(["camera", "dispatch_110", "alarm_phone"])),
        severity=float(rng.choice([0.3, 0.6, 0.9])),
        grid=int(rng.integers(-1, 9)),
    )
    rows = rows_of(batch)
    roots = link_components(rows["x"], rows["y"], rows["event_ms"], 150.0, 10 * MIN)
    # Each component is given a boundary after its last alert, as the engine finds them.
    last = np.full(n, T0)
    np.maximum.at(last, roots, rows["event_ms"])
    bound_of_root = (last + 10 * MIN + rng.integers(1, n_bounds + 1, n) * MIN)[roots]
    expected = []
    for b in np.unique(bound_of_root).tolist():
        keep = np.flatnonzero(bound_of_root == b)
        part = {k: v[keep] for k, v in rows.items()}
        expected += build_incidents(
            part, np.searchsorted(keep, roots[keep]), b, 10 * MIN, PROJECTION
        )[1]
    consumed, together = build_incidents(rows, roots, bound_of_root, 10 * MIN, PROJECTION)
    assert consumed.all()
    assert [i.to_json() for i in together] == [i.to_json() for i in expected]
