"""A worker killed with SIGKILL again and again gives the outputs of one that never stopped
(jobs/stages/correlators.py: correlator checkpoints in Kafka, restored on assignment).

Real Tansu broker, real worker processes. The test city is replayed twice, into two sets of
topics. One worker drains the first set without interruption. On the second set, workers are
killed eight times, restarted each time, and a last one drains. Four kills come from
failpoints, at the narrow moments: a checkpoint half written (chunks, no manifest), a
checkpoint written but not the tombstones for what it retired, a batch's outputs delivered but
neither checkpointed nor committed, and an alerts insert under way. Four come at seeded random
moments after the worker took its partitions; checkpoints are written every 0.2 s and polls
are small, so those land anywhere in a batch. Alerts, dead letters, incidents and flags in the
warehouse, and the flag and incident records on their topics (deduplicated by id and version),
must equal the uninterrupted run's; and the checkpoints topic must hold nothing its newest
manifests do not need, whatever the kills left behind.

Lateness is the default (120 s): an alert is judged late only against its own feed
partition's progress, which each restarted normaliser restores from the watermark marks at its
committed offsets (jobs/mark_reader.py), so the same alerts are late with or without kills.
A redelivered copy of a late alert (a normaliser killed between publishing and committing) is
dropped as a duplicate, and only the copy the correlator found late is dead-lettered, by its
position in the batch: one full-suite run (2026-12-06, commit 73427ff) dead-lettered a late
camera alert twice after the kills, when both copies came in one batch and the late row was
looked up by id and event time. Another (2026-12-07, commit 1421fb6) dead-lettered five late
camera alerts twice: the redelivered tail held the closing ticks, the window had passed the
copies before they came, and the correlator had forgotten the late keys; a copy like that is
now known by the progress it was judged against (pipeline/correlate/window/late_keys.py), and
one that is not late by where it lands (pipeline/correlate/window/event_time.py).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import time

import msgspec
import numpy as np
import pytest

from pipeline.geo.admin_units import load_registry
from pipeline.kafka import BatchProducer
from pipeline.kafka.checkpoints import (
    Checkpoint,
    Written,
    latest_checkpoint,
    read_state,
    retired_keys,
    write_checkpoint,
)
from pipeline.outputs import FlagMessage, IncidentMessage
from pipeline.routing import TileRouting
from pipeline.warehouse import open_warehouse
from tests.conftest import new_worker_config
from tests.jobs.test_backfill_matches_live import hotspot, tick_time, warehouse_rows
from tests.jobs.test_worker import (
    camera,
    encode,
    now_ms,
    produce,
    read_topic,
    tick_every_feed_partition,
)

pytestmark = pytest.mark.timeout(1200)

#: failpoints (jobs/failpoints.py) armed for a pass well inside the run
FAILPOINT_KILLS = (
    "checkpoint-torn:3",
    "outputs-delivered:4",
    "warehouse-insert:3",
    "checkpoint-retiring:1",  # parts retire only once settled rows leave the window
)
RANDOM_KILLS = 4
SEED = 17


def replay(config, path) -> None:
    """``hotspot replay`` of ``path`` into the config's feed topics, as fast as it goes."""
    topics = json.dumps({f"alerts.{s}": t for s, t in config.settings.topics.feeds().items()})
    hotspot(
        "replay",
        str(path),
        "--max",
        "--bootstrap",
        config.bootstrap,
        "--topic-map",
        topics,
        "--no-progress",
        env=config.env(),
    )


def close_every_window(config, city) -> None:
    """A tick past every window of the city in every feed partition: every origin declares
    that progress, so a worker that drains closes every window."""
    events = [json.loads(line)["ts"] for line in city.replay.read_bytes().splitlines()]
    registry = load_registry(config.settings.registry_path)
    lat, lon = float(registry.grid_centroid_lat[0]), float(registry.grid_centroid_lon[0])
    tick_every_feed_partition(config, tick_time(config.settings, max(events)), lat, lon)


def killed_worker(env: dict, delay_s: float) -> tuple[bool, str]:
    """Start a worker; ``delay_s`` after it logs its partitions' restore, SIGKILL it.
    Returns whether it was still running when killed, and its log."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "worker", "--until-drained", "--log-level", "info"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assigned = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            if "checkpoint" in line and "partition" in line:
                assigned.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assigned.wait(timeout=120)
    time.sleep(delay_s)
    alive = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=30)
    return alive, "".join(lines)


def topic_records(config, topic: str, record_type: type) -> set[bytes]:
    """The records of ``topic``, each (id, version) once, re-encoded canonically."""
    decode, encode = msgspec.json.Decoder(record_type).decode, msgspec.json.Encoder().encode
    return {encode(decode(r.value)) for r in read_topic(config.bootstrap, topic)}


def topic_outputs(config) -> dict[str, set[bytes]]:
    """The flag and incident records on their topics."""
    topics = config.settings.topics
    return {
        "flag records": topic_records(config, topics.flags, FlagMessage),
        "incident records": topic_records(config, topics.incidents, IncidentMessage),
    }


def outputs(config) -> dict:
    return {**warehouse_rows(config.settings.resolved_warehouse_url), **topic_outputs(config)}


def leftovers(config) -> dict[int, list[bytes]]:
    """Per partition, the keys with a value on the checkpoints topic that its newest manifest
    does not need (but for the other slot's chunks, overwritten next time)."""
    settings = config.settings
    state = asyncio.run(
        read_state(config.bootstrap, settings.topics.checkpoints, range(settings.partitions))
    )
    return {
        p: retired_keys(checkpoint, Written.read(latest, checkpoint).keys)
        for p, latest in state.items()
        if (checkpoint := latest_checkpoint(latest, p)) is not None
    }


def test_killed_and_restarted_workers_give_the_outputs_of_an_uninterrupted_one(
    tmp_path, broker, city, monkeypatch
):
    monkeypatch.setenv("HOTSPOT_IDLE_MARK_S", "0")  # a replay of yesterday: no wall clock
    steady, crashed = (new_worker_config(tmp_path, broker, city) for _ in range(2))
    for config in (steady, crashed):
        replay(config, city.replay)
        close_every_window(config, city)
    steady.run_worker()

    env = {
        **crashed.env(),
        "HOTSPOT_CHECKPOINT_EVERY_S": "0.2",
        "HOTSPOT_BATCH_MAX": "200",
        "HOTSPOT_SESSION_TIMEOUT_S": "3",  # a killed worker's partitions move on sooner
    }
    for spec in FAILPOINT_KILLS:  # the narrow moments, each once
        run = subprocess.run(
            [sys.executable, "-m", "jobs", "worker", "--until-drained"],
            env={**env, "HOTSPOT_FAILPOINT": spec},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert run.returncode == -signal.SIGKILL, f"{spec} not reached:\n{run.stderr[-2000:]}"
    rng = random.Random(SEED)
    logs, hits = [], 0
    for _ in range(RANDOM_KILLS):  # and anywhere
        alive, log = killed_worker(env, rng.uniform(0.1, 0.9))
        hits += alive
        logs.append(log)
    crashed.run_worker()

    assert hits >= 3, f"only {hits} of {RANDOM_KILLS} kills found the worker still running"
    assert any("restored the checkpoint" in log for log in logs[1:]), "no restart restored"
    left = leftovers(crashed)
    assert len(left) == crashed.settings.partitions and not any(left.values()), left
    expected, got = outputs(steady), outputs(crashed)
    assert expected["flags"] and expected["incidents"], "the city's hotspot was found"
    assert len(expected["alerts"]) > 7000
    late = [row for row, _ in expected["deadletters"] if "late" in map(str, row)]
    assert late, "with the default lateness some alerts are late: the test judges lateness too"
    for name in expected:
        missing, extra = set(expected[name]) - set(got[name]), set(got[name]) - set(expected[name])
        assert got[name] == expected[name], (
            f"{name} differ: {len(missing)} missing, e.g. {sorted(missing)[:3]}; "
            f"{len(extra)} extra, e.g. {sorted(extra)[:3]}"
        )


def test_a_checkpoint_that_cannot_be_restored_is_reported_and_its_partition_rebuilt(
    worker_config, located
):
    """One partition's checkpoint claims another partition count, the other's manifest is
    garbage: the worker names both with their reasons, rebuilds them from their input, and
    stores every alert."""
    lat, lon, _ = located
    settings, bootstrap = worker_config.settings, worker_config.bootstrap
    topic = settings.topics.checkpoints
    produce(
        bootstrap,
        [(settings.topics.camera, encode(camera(f"a{i}", lat=lat, lon=lon))) for i in range(3)],
    )
    worker_config.run_worker()

    async def damage() -> None:
        producer = BatchProducer(
            bootstrap, linger_ms=0, max_batch_bytes=512 << 10, max_request_bytes=8 << 20
        )
        await producer.start()
        try:
            other_count = Checkpoint(0, settings.partitions + 1, 0, b"state", 99, now_ms())
            await write_checkpoint(producer, topic, other_count)
            garbage = await producer.send(topic, np.array([1]), [b"1/manifest"], [b"{oops"])
            await asyncio.gather(*garbage)
        finally:
            await producer.stop()

    asyncio.run(damage())
    produce(
        bootstrap,
        [(settings.topics.camera, encode(camera(f"b{i}", lat=lat, lon=lon))) for i in range(3)],
    )
    result = worker_config.run_worker()

    assert (
        f"partition 0: checkpoint not restored: it was written when {settings.topics.normalized} "
        f"had {settings.partitions + 1} partitions, and it has {settings.partitions} now"
    ) in result.stderr
    assert "partition 1: checkpoint not restored: its manifest is not readable" in result.stderr
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        stored = {r[0] for r in wh.query(f"SELECT alert_id FROM {wh.database}.alerts FINAL")}
    assert stored == {f"camera:{p}{i}" for p in "ab" for i in range(3)}
    # The new checkpoints: partition 0's goes on from the refused generation (99), so that a
    # writer killed half-way would leave the refused one whole; partition 1's manifest told
    # nothing, so its count starts again.
    state = asyncio.run(read_state(bootstrap, topic, [0, 1]))
    assert latest_checkpoint(state[0], 0).generation > 99
    assert latest_checkpoint(state[1], 1).partitions == settings.partitions


def test_checkpoint_every_rows_counts_the_alerts_a_partition_owns_not_its_halo_copies(
    worker_config, monkeypatch
):
    """Alerts near a tile edge are also copied to the neighbouring tile's partition; that
    partition's correlator takes them as context, but they are not its rows: counted, they
    made it checkpoint as often as the owner, for alerts it does not own."""
    settings = worker_config.settings
    registry = load_registry(settings.registry_path)
    routing = TileRouting.from_settings(settings, registry)
    lat, lon = registry.grid_centroid_lat, registry.grid_centroid_lon
    routed = routing.route(lat, lon)
    row = int(routed.row[routed.halo][0])  # a grid centre with a halo copy elsewhere
    own = int(routed.partition[(routed.row == row) & ~routed.halo][0])
    (halo,) = routed.partition[(routed.row == row) & routed.halo].tolist()
    monkeypatch.setenv("HOTSPOT_CHECKPOINT_EVERY_ROWS", "2")
    monkeypatch.setenv("HOTSPOT_CHECKPOINT_EVERY_S", "3600")
    here = {"lat": float(lat[row]), "lon": float(lon[row])}
    for i in range(3):  # three polls of two alerts each
        alerts = [camera(f"edge-{i}-{j}", **here) for j in range(2)]
        produce(worker_config.bootstrap, [(settings.topics.camera, encode(a)) for a in alerts])
        worker_config.run_worker()

    state = asyncio.run(read_state(worker_config.bootstrap, settings.topics.checkpoints, [0, 1]))
    generations = {p: latest_checkpoint(state[p], p).generation for p in (own, halo)}
    # the owner: one checkpoint for every two alerts, and one at each stop; the neighbour:
    # one at each stop only (three runs: generations 0, 1, 2)
    assert generations[halo] == 2, generations
    assert generations[own] >= 5, generations
