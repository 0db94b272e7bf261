"""A chDB warehouse filled by the simulated city, as a live worker would have left it mid-run.

The city's replay goes through the real normalise stage (alerts with every envelope field:
camera ids, grid-report steps) and the real correlator (incidents, flags); everything is cut
at ``snapshot``, during the planted hotspot, so open flags exist as they would on a live
dashboard. Compounds are rated for the city's month. chDB holds one data directory per
process, so the warehouse lives for one test module and is closed before the next opens its own.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

import numpy as np
import pytest

from jobs.runtime import store_admin_units
from pipeline.correlate import Baseline, CorrelationParams
from pipeline.envelope import NormalizedAlert, encode_envelopes, envelope_table, read_envelopes
from pipeline.geo.admin_units import AdminRegistry, load_registry
from pipeline.normalize import normalize
from pipeline.offline import offline_context, read_stamped, run_offline
from pipeline.outputs import flag_messages, incident_messages
from pipeline.ratings import Month, rate_compounds, write_ratings
from pipeline.settings import RatingThresholds
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.rows import alert_rows, flag_rows, incident_rows

_FEED_OF_TOPIC = {
    f"alerts.{s}": s for s in ("alarm_phone", "dispatch_110", "camera", "grid_report")
}


@dataclass
class CityWarehouse:
    warehouse: EmbeddedWarehouse
    registry: AdminRegistry
    start: datetime
    snapshot: datetime


def _envelopes(replay, registry: AdminRegistry) -> list[NormalizedAlert]:
    """Normalised envelopes of the replay, one batch per run of consecutive same-feed records,
    with the worker clock at each run's newest arrival time (as :mod:`pipeline.offline`)."""
    now = {"ms": 2**62}
    ctx = offline_context(registry, lambda: now["ms"])
    out: list[NormalizedAlert] = []
    records = (r for r in read_stamped(replay) if r.record.topic in _FEED_OF_TOPIC)
    for topic, run in itertools.groupby(records, key=attrgetter("record.topic")):
        run = list(run)
        stamps = [r.ts for r in run if r.ts is not None]
        now["ms"] = max(stamps) if stamps else now["ms"]
        batch = normalize(_FEED_OF_TOPIC[topic], [r.record.value for r in run], ctx)
        n = len(batch.alerts)
        values = encode_envelopes(
            envelope_table(batch, registry),
            np.arange(n),
            np.full(n, b"0:0"),
            np.zeros(n, dtype=bool),
        )
        out += read_envelopes(values)
    return out


@pytest.fixture(scope="module")
def city_warehouse(city, tmp_path_factory) -> CityWarehouse:
    registry = load_registry(city.registry)
    truth = json.loads(city.truth.read_text())
    start = datetime.fromisoformat(truth["config"]["start"])
    snapshot = datetime.fromisoformat(truth["hotspots"][0]["end"]) - timedelta(minutes=10)
    cut_ms = int(snapshot.timestamp() * 1000)

    envelopes = [e for e in _envelopes(city.replay, registry) if e.event_ms <= cut_ms]
    result = run_offline(city.replay, registry, Baseline(0.0625, 2.0), CorrelationParams())
    flags = [f for f in result.flags if f.boundary_ms <= cut_ms]
    incidents = [i for i in result.incidents if i.boundary_ms <= cut_ms]

    wh = EmbeddedWarehouse(tmp_path_factory.mktemp("city-warehouse"))
    migrate(wh)
    store_admin_units(registry, wh)
    wh.insert("alerts", alert_rows(envelopes))
    wh.insert("flags", flag_rows(flag_messages(flags, registry)))
    wh.insert("incidents", incident_rows(incident_messages(incidents, registry)))
    thresholds = RatingThresholds(yellow_at=1, red_at=2)  # three hours of a city: low counts
    local = snapshot.astimezone(UTC) + timedelta(minutes=thresholds.utc_offset_min)
    month = Month(local.year, local.month)
    write_ratings(wh, rate_compounds(wh, registry, [month], thresholds), registry)
    wh.execute("USE hotspot")  # Grafana's data source names the database; the panels do not
    try:
        yield CityWarehouse(wh, registry, start, snapshot)
    finally:
        wh.close()
