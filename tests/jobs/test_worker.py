"""The worker end to end: real Tansu broker, worker as its own process, chDB read back after.

Feeds are produced with kafka-python exactly as an outside producer would.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from kafka import KafkaProducer

from pipeline.alerts import SOURCES
from pipeline.deadletter import DeadLetter, Sealer
from pipeline.envelope import NormalizedAlert, read_envelopes
from pipeline.geo.admin_units import load_registry
from pipeline.kafka import read_topic as kafka_read_topic
from pipeline.kafka import send_chunks
from pipeline.marks import MARK_KEY
from pipeline.replay import read_jsonl, read_jsonl_chunks
from pipeline.warehouse import open_warehouse
from tests.conftest import PSEUDONYM_KEY, feed_topics

pytestmark = pytest.mark.timeout(600)


def read_topic(bootstrap: str, topic: str) -> list:
    """Every record of every partition of ``topic``, from the beginning to its end, with the
    client the worker itself uses (:func:`pipeline.kafka.read_topic`)."""
    return kafka_read_topic(bootstrap, topic)


def produce(
    bootstrap: str, messages: list[tuple[str, bytes]], partition: int | None = None
) -> None:
    """Send ``(topic, value)`` pairs; one ``partition`` for all keeps their order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for topic, value in messages:
        producer.send(topic, value=value, partition=partition)
    producer.flush()
    producer.close()


def envelopes(bootstrap: str, topic: str) -> list[NormalizedAlert]:
    """Every alert on ``topic`` (alerts.normalized), leaving out its watermark marks."""
    return read_envelopes([r.value for r in read_topic(bootstrap, topic) if r.key != MARK_KEY])


def deadletters(bootstrap: str, topic: str) -> list[DeadLetter]:
    decoder = msgspec.json.Decoder(DeadLetter)
    return [decoder.decode(r.value) for r in read_topic(bootstrap, topic)]


def now_ms() -> int:
    return int(time.time() * 1000)


# --- hand-made messages --------------------------------------------------------------------------


def ticks(tag: str, at_ms: int, lat: float, lon: float) -> dict[str, dict]:
    """One alert per feed at event time ``at_ms``, none of them evidence of trouble (severity
    0, but the 110 call: 110 has no such category, and one call alone opens no flag)."""
    return {
        "alarm_phone": alarm(f"{tag}-a", trigger="test", triggered_at=at_ms, lat=lat, lon=lon),
        "dispatch_110": dispatch(
            f"{tag}-d", received_at=at_ms, category="traffic", priority=4, lat=lat, lon=lon
        ),
        "camera": camera(f"{tag}-c", detected_at=at_ms, kind="online", lat=lat, lon=lon),
        "grid_report": {
            "report_id": f"{tag}-g",
            "reporter_id": "gw-1",
            "reported_at": at_ms,
            "category": "other",
            "status": "resolved",
            "lat": lat,
            "lon": lon,
        },
    }


def tick_every_feed_partition(worker_config, at_ms: int, lat: float, lon: float) -> None:
    """A tick at ``at_ms`` in every partition of every feed topic: every origin (feed
    partition) then declares that progress, as a busy city's feeds would, so correlators close
    every window before it less the lateness."""
    settings = worker_config.settings
    for partition in range(settings.partitions):
        messages = ticks(f"tick{at_ms}-{partition}", at_ms, lat, lon)
        produce(
            worker_config.bootstrap,
            [(settings.topics.feed(feed), encode(m)) for feed, m in messages.items()],
            partition=partition,
        )


def camera(alert_id: str, **overrides) -> dict:
    return {
        "alert_id": alert_id,
        "camera_id": "cam-1",
        "detected_at": now_ms() - 60_000,
        "kind": "fight",
        "confidence": 0.9,
        "lat": 30.25,
        "lon": 120.15,
        **overrides,
    }


def iso_shanghai(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone(timedelta(hours=8))).isoformat()


def alarm(event_id: str, **overrides) -> dict:
    # Recent like the other feeds: an alert days older than one the correlator has already
    # seen is late by contract, and whether it was seen first depends on arrival order.
    return {
        "event_id": event_id,
        "device_id": "dev-77",
        "household_id": "HH-0042",
        "trigger": "panic",
        "triggered_at": iso_shanghai(now_ms() - 45_000),
        "lat": 30.25,
        "lon": 120.15,
        "caller_phone": "13912345678",
        "address": "12 Lotus Lane, Room 3",
        **overrides,
    }


def dispatch(incident_id: str, **overrides) -> dict:
    return {
        "incident_id": incident_id,
        "received_at": now_ms() - 30_000,
        "category": "theft",
        "priority": 2,
        "lat": 30.26,
        "lon": 120.16,
        "caller_phone": "+86 137-0000-1111",
        "summary": "caller at 5 Pine Road says bike stolen",
        **overrides,
    }


def grid(report_id: str, grid_code: str, **overrides) -> dict:
    return {
        "report_id": report_id,
        "reporter_id": "gw-1",
        "reported_at": now_ms() - 90_000,
        "category": "dispute",
        "status": "reported",
        "grid_code": grid_code,
        **overrides,
    }


def encode(obj: dict) -> bytes:
    return json.dumps(obj).encode()


# --- tests ---------------------------------------------------------------------------------------


def test_every_bad_input_class_is_dead_lettered_and_the_good_ones_all_arrive(
    worker_config, located
):
    lat, lon, grid_code = located
    topics = worker_config.settings.topics
    here = {"lat": lat, "lon": lon}
    good = {
        "camera": [camera(f"c{i}", **here) for i in range(6)],
        "alarm_phone": [alarm("a1", **here), alarm("a2", trigger="smoke", **here)],
        "dispatch_110": [dispatch("d1", **here)],
        "grid_report": [grid("g1", grid_code), grid("g2", grid_code, **here)],
    }
    bad = [  # (feed, raw value, expected reason)
        ("camera", b'{"alert_id": "x1", "camera_id": ', "malformed_json"),
        ("camera", b"\xff\xfe not json", "malformed_json"),
        (
            "camera",
            encode({k: v for k, v in camera("x2", **here).items() if k != "lat"}),
            "missing_field",
        ),
        ("camera", encode(camera("x3", lat="north", lon=lon)), "wrong_type"),
        ("camera", encode(camera("x4", confidence=1.7, **here)), "invalid_value"),
        ("camera", encode(camera("x5", lat=0.0, lon=0.0)), "out_of_area"),
        ("camera", encode(camera("x6", detected_at=now_ms() + 86_400_000, **here)), "future_time"),
        (
            "camera",
            encode(camera("x7", detected_at="2001-01-01T00:00:00+08:00", **here)),
            "stale_time",
        ),
        (
            "alarm_phone",
            encode(alarm("x8", triggered_at="2026-11-23T08:00:00", **here)),
            "invalid_value",
        ),
        ("dispatch_110", encode(dispatch("x9", priority="high", **here)), "wrong_type"),
        ("grid_report", encode(grid("x10", "NO-SUCH-CELL")), "unknown_grid_code"),
        # nested 10,000 deep: failed its whole batch with RecursionError (issue 22's fuzzing)
        ("dispatch_110", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "malformed_json"),
    ]
    messages = []
    for i, (feed, value, _) in enumerate(bad):  # each bad message sits between good ones
        messages.append((topics.feed(feed), value))
        if i < len(good["camera"]):
            messages.append((topics.camera, encode(good["camera"][i])))
    for feed in ("alarm_phone", "dispatch_110", "grid_report"):
        messages += [(topics.feed(feed), encode(m)) for m in good[feed]]
    produce(worker_config.bootstrap, messages)

    worker_config.run_worker()

    delivered = {e.alert_id for e in envelopes(worker_config.bootstrap, topics.normalized)}
    id_field = {
        "camera": "alert_id",
        "alarm_phone": "event_id",
        "dispatch_110": "incident_id",
        "grid_report": "report_id",
    }
    expected = {f"{feed}:{m[id_field[feed]]}" for feed, ms in good.items() for m in ms}
    assert delivered == expected

    letters = deadletters(worker_config.bootstrap, topics.deadletter)
    sealer = Sealer(PSEUDONYM_KEY.encode())
    got = sorted((d.topic, sealer.open(d.payload_sealed), d.reason.value) for d in letters)
    want = sorted((topics.feed(feed), value, reason) for feed, value, reason in bad)
    assert got == want
    offsets = {(d.topic, d.partition, d.offset) for d in letters}
    assert len(offsets) == len(bad), "each dead letter names its own source message"

    with open_warehouse(worker_config.settings.resolved_warehouse_url) as wh:
        stored = {r[0] for r in wh.query(f"SELECT alert_id FROM {wh.database}.alerts FINAL")}
        reasons = sorted(r[0] for r in wh.query(f"SELECT reason FROM {wh.database}.deadletters"))
    assert stored == expected
    assert reasons == sorted(reason for _, _, reason in bad)


def test_a_simulated_city_flows_through_all_four_feeds(worker_config, city):
    settings = worker_config.settings
    sent = send_chunks(
        read_jsonl_chunks(city.replay, []),
        worker_config.bootstrap,
        topic_map=feed_topics(settings),
    )
    assert sent == city.records

    worker_config.run_worker()

    normalized = envelopes(worker_config.bootstrap, settings.topics.normalized)
    primary = [e for e in normalized if not e.halo]
    assert {e.source for e in primary} == set(SOURCES)
    # once per feed partition: a copy the feed redelivered into another one goes on, to be
    # judged by its own partition's progress (issue 17); the correlators keep one
    published = {(e.alert_id, e.origin) for e in primary}
    assert len(published) == len(primary), "no alert published twice from one feed partition"
    assert len(published) > len({e.alert_id for e in primary}), "the city has such copies"
    # dumped at once, the feeds reach the correlator far out of event-time order, so many
    # alerts are also dead-lettered as late there; only the ingest rejects are counted here
    letters = [
        d
        for d in deadletters(worker_config.bootstrap, settings.topics.deadletter)
        if d.reason.value != "late"
    ]
    assert [d for d in letters if d.reason.value == "internal_error"] == []
    assert len(primary) + len(letters) <= sent
    truth = json.loads(city.truth.read_text())
    assert letters, "the simulated feeds carry bad input"

    with open_warehouse(settings.resolved_warehouse_url) as wh:
        db = wh.database
        stored, with_units = wh.query(
            f"SELECT count(), countIf(community_code != '' AND station_id != '') "
            f"FROM {db}.alerts FINAL"
        )[0]
        by_source = dict(wh.query(f"SELECT source, count() FROM {db}.alerts FINAL GROUP BY source"))
        units = dict(wh.query(f"SELECT level, count() FROM {db}.admin_units FINAL GROUP BY level"))
    assert stored == len({e.alert_id for e in primary}), "one row per alert, copies collapsed"
    assert with_units == stored, "every stored alert is tagged with its units and station"
    assert set(by_source) == set(SOURCES)
    assert truth  # the ground truth file is readable JSON
    registry = load_registry(city.registry)
    assert units["grid"] == len(registry.grids) and units["district"] == len(registry.districts)


def _clear_personal_values(city) -> set[str]:
    values = set()
    for record in read_jsonl(city.replay):
        if record.topic not in ("alerts.alarm_phone", "alerts.dispatch_110"):
            continue
        try:
            obj = json.loads(record.value)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        for field in ("caller_phone", "household_id", "device_id", "address", "summary"):
            if isinstance(obj.get(field), str) and len(obj[field]) >= 6:
                values.add(obj[field])
    return values


def test_no_personal_data_in_clear_in_any_output_topic_or_table(worker_config, city):
    settings = worker_config.settings
    send_chunks(
        read_jsonl_chunks(city.replay, []),
        worker_config.bootstrap,
        topic_map=feed_topics(settings),
    )
    worker_config.run_worker()

    clear = _clear_personal_values(city)
    assert len(clear) > 10, "the simulated city has callers and households to protect"
    outputs = [settings.topics.normalized, settings.topics.deadletter]
    blob = b"\n".join(
        (r.key or b"") + b" " + (r.value or b"")
        for topic in outputs
        for r in read_topic(worker_config.bootstrap, topic)
    ).decode("utf-8", errors="replace")
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        for table in ("alerts", "deadletters"):
            rows = wh.query(f"SELECT * FROM {wh.database}.{table}")
            blob += "\n".join(" ".join(map(str, row)) for row in rows)
    leaked = sorted(v for v in clear if v in blob)
    assert leaked == []
    digits_only = {"".join(ch for ch in v if ch.isdigit()) for v in clear}
    assert sorted(d for d in digits_only if len(d) >= 11 and d in blob) == []


def test_a_duplicate_is_dropped_across_a_worker_restart(worker_config, located):
    lat, lon, _ = located
    topics = worker_config.settings.topics
    first = encode(camera("dup-1", lat=lat, lon=lon))
    # A redelivery lands in the same feed partition (the normaliser dedupes per feed
    # partition; a copy in another one goes on to the correlators, test_watermarks.py).
    produce(worker_config.bootstrap, [(topics.camera, first)], partition=0)
    worker_config.run_worker()

    produce(
        worker_config.bootstrap,
        [(topics.camera, first), (topics.camera, encode(camera("new-2", lat=lat, lon=lon)))],
        partition=0,
    )
    worker_config.run_worker()

    primary = [
        e.alert_id for e in envelopes(worker_config.bootstrap, topics.normalized) if not e.halo
    ]
    assert sorted(primary) == ["camera:dup-1", "camera:new-2"]
