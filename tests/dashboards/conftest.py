"""A chDB warehouse filled by the simulated city, as a live worker would have left it mid-run.

The city's replay is backfilled into memory (alerts with every envelope field: camera ids,
grid-report steps; incidents and flags of the real correlators); everything is cut
at ``snapshot``, during the planted hotspot, so open flags exist as they would on a live
dashboard. Compounds are rated for the city's month. chDB holds one data directory per
process, so the warehouse lives for one test module and is closed before the next opens its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jobs.runtime import store_admin_units
from pipeline.backfill.files import backfill_to_memory
from pipeline.cameras import load_cameras
from pipeline.correlate import Baseline
from pipeline.envelope import NormalizedAlert, encode_envelopes, envelope_table, read_envelopes
from pipeline.geo.admin_units import AdminRegistry, load_registry
from pipeline.normalize import NormalizedBatch
from pipeline.patrol import AckRecord, NoticeBook, NoticeEvent, PatrolParams
from pipeline.ratings import Month, rate_compounds, write_ratings
from pipeline.settings import RatingThresholds, Settings
from pipeline.warehouse import migrate
from pipeline.warehouse.embedded import EmbeddedWarehouse
from pipeline.warehouse.rows import (
    alert_rows,
    deadletter_rows,
    flag_rows,
    incident_rows,
    notice_event_rows,
)
from tests.conftest import PSEUDONYM_KEY


@dataclass
class CityWarehouse:
    warehouse: EmbeddedWarehouse
    registry: AdminRegistry
    start: datetime
    snapshot: datetime


def _envelopes(batches: list[NormalizedBatch], registry: AdminRegistry) -> list[NormalizedAlert]:
    """The normalised alerts as the envelopes the alerts sink reads."""
    out: list[NormalizedAlert] = []
    for batch in batches:
        n = len(batch.alerts)
        values = encode_envelopes(
            envelope_table(batch, registry),
            np.arange(n),
            np.full(n, b"0:0"),
            np.zeros(n, dtype=bool),
        )
        out += read_envelopes(values)
    return out


#: how stations answer their notices, in turn: (action, minutes after the issue)
_ROTA = (
    (("received", 3), ("arrived", 12)),
    (("received", 8), ("arrived", 12)),  # reminded first
    (("arrived", 40),),  # escalated at 30: a late receipt
    (),  # never
)


def _notice_events(flags: list) -> list:
    """The notices of the city's flags (in boundary order, as a correlator makes them), acked
    by their stations as :data:`_ROTA` says, each ack in time order between the flags."""
    book, events, acks, issued = NoticeBook(0, PatrolParams()), [], [], 0

    def apply_until(now_ms: int) -> None:
        nonlocal events
        for ack in sorted((a for a in acks if a.at_ms <= now_ms), key=lambda a: a.at_ms):
            events += book.due(ack.at_ms)
            events.append(book.apply(ack))
            acks.remove(ack)

    for flag in sorted(flags, key=lambda f: f.boundary_ms):  # loop per flag version: a few
        apply_until(flag.boundary_ms)
        for event in book.flags([flag]):
            events.append(event)
            if event.kind == "issued":
                acks += [
                    AckRecord(
                        event.notice_id,
                        event.station_id,
                        action,
                        event.issued_ms + m * 60_000,
                        None,
                        None,
                        "",
                    )
                    for action, m in _ROTA[issued % len(_ROTA)]
                ]
                issued += 1
    return [e for e in events if isinstance(e, NoticeEvent)]


@pytest.fixture(scope="module")
def city_warehouse(city, tmp_path_factory) -> CityWarehouse:
    registry = load_registry(city.registry)
    truth = json.loads(city.truth.read_text())
    start = datetime.fromisoformat(truth["config"]["start"])
    snapshot = datetime.fromisoformat(truth["hotspots"][0]["end"]) - timedelta(minutes=10)
    cut_ms = int(snapshot.timestamp() * 1000)

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("city-settings"), pseudonym_key=PSEUDONYM_KEY
    )
    memory, _ = backfill_to_memory(
        settings, registry, [city.replay], lambda: Baseline(0.0625, 2.0), keep_alerts=True
    )
    envelopes = [e for e in _envelopes(memory.normalized, registry) if e.event_ms <= cut_ms]
    flags = [f for f in memory.flags if f.boundary_ms <= cut_ms]
    incidents = [i for i in memory.incidents if i.boundary_ms <= cut_ms]

    wh = EmbeddedWarehouse(tmp_path_factory.mktemp("city-warehouse"))
    migrate(wh)
    store_admin_units(registry, wh)
    load_cameras(city.registry.with_name("cameras.csv"), registry, wh)  # the sim's inventory
    wh.insert("alerts", alert_rows(envelopes))
    wh.insert("flags", flag_rows(flags))
    wh.insert("incidents", incident_rows(incidents))
    wh.insert("notice_events", notice_event_rows(_notice_events(flags)))
    # the city's bad input; a backfill stamps it with the wall clock, a live worker would have
    # received it during the city's hours
    dead = deadletter_rows(memory.deadletters)
    dead["received_time"] = np.full(len(memory.deadletters), cut_ms - 60_000).astype("M8[ms]")
    wh.insert("deadletters", dead)
    thresholds = RatingThresholds(yellow_at=1, red_at=2)  # three hours of a city: low counts
    local = snapshot.astimezone(UTC) + timedelta(minutes=thresholds.utc_offset_min)
    month = Month(local.year, local.month)
    write_ratings(wh, rate_compounds(wh, registry, [month], thresholds), registry)
    wh.execute("USE hotspot")  # Grafana's data source names the database; the panels do not
    try:
        yield CityWarehouse(wh, registry, start, snapshot)
    finally:
        wh.close()
