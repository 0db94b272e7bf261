"""Alerts-table rows and correlator columns taken straight from a normalised batch are exactly
what a reader of the batch's envelope records gets."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.envelope import (
    as_enveloped,
    decode_envelopes,
    encode_envelopes,
    envelope_table,
    read_envelopes,
)
from pipeline.geo.admin_units import load_registry
from pipeline.normalize import NormalizeContext, normalize
from pipeline.replay.jsonl import read_jsonl_chunks
from pipeline.settings import Settings
from pipeline.warehouse.alert_columns import alert_columns
from pipeline.warehouse.rows import alert_rows
from tests.conftest import PSEUDONYM_KEY

FEEDS = ("alarm_phone", "dispatch_110", "camera", "grid_report")


@pytest.fixture(scope="module")
def normalized(city, tmp_path_factory):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("cols"),
        registry_path=city.registry,
        pseudonym_key=PSEUDONYM_KEY,
    )
    registry = load_registry(city.registry)
    ctx = NormalizeContext.from_settings(settings, registry)
    (chunk,) = read_jsonl_chunks(city.replay, [], chunk_records=10**6)
    out = {}
    for feed in FEEDS:
        index = np.flatnonzero(chunk.topic == f"alerts.{feed}")
        out[feed] = normalize(feed, [chunk.values[i] for i in index], ctx)
    return registry, out


@pytest.mark.parametrize("feed", FEEDS)
def test_alert_columns_equal_the_sink_rows_of_the_envelopes(normalized, feed):
    registry, batches = normalized
    batch = batches[feed]
    assert len(batch.alerts) > 0
    rows = np.arange(len(batch.alerts))
    table = envelope_table(batch, registry)
    values = encode_envelopes(table, rows, np.full(len(rows), b"0:0"), np.zeros(len(rows), bool))
    live = alert_rows(read_envelopes(values))
    mine = alert_columns(table, ingest_ms=0)
    assert set(mine) == set(live)
    for name in live:
        if name == "ingest_time":
            continue
        expected, got = np.asarray(live[name]), np.asarray(mine[name])
        assert expected.dtype == got.dtype, name
        assert np.array_equal(expected, got), name


@pytest.mark.parametrize("feed", FEEDS)
def test_the_correlator_sees_what_it_would_decode_from_envelopes(normalized, feed):
    registry, batches = normalized
    batch = batches[feed]
    rows = np.arange(len(batch.alerts))
    values = encode_envelopes(
        envelope_table(batch, registry), rows, np.full(len(rows), b"0:0"), np.zeros(len(rows), bool)
    )
    decoded = decode_envelopes(values, registry)[0].alerts
    mine = as_enveloped(batch.alerts)
    for name in ("alert_id", "source", "event_ms", "lat", "lon", "category", "severity", "grid"):
        expected, got = getattr(decoded, name), getattr(mine, name)
        assert expected.dtype == got.dtype and np.array_equal(expected, got), name
