"""Warehouse outage: a real clickhouse-server is killed mid-stream and restarted on the same
data directory and port, under a consumer that drains a real Kafka topic (Tansu) into it.

The consumer is the sink stages' contract reduced to its parts: write each batch through
:func:`insert_with_retry`, then commit the batch's offsets (the worker commits a stage's
offsets once its batch is written, i.e. after ``_write`` returned). While the server is down
the write must block, retrying with backoff, so nothing is committed; when it is back every
alert must be in the warehouse exactly once. 18.16 has no production DDL (no DateTime64, TTL,
H3), so the rows land in a test-only ReplacingMergeTree keyed by alert id, like ``alerts``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

import pytest

from pipeline.kafka import ensure_topics
from pipeline.warehouse import open_warehouse
from pipeline.warehouse.retry import RetryPolicy, insert_with_retry

ROUNDS, PER_ROUND, PACE_S = 24, 125, 0.1  # 3000 alerts produced over about 2.4 s
OUTAGE_S = 3.0
POLICY = RetryPolicy(initial_s=0.05, max_s=0.4, multiplier=2.0)
RECEIVED_DDL = (
    "CREATE TABLE IF NOT EXISTS {db}.received (alert_id String, partition UInt32, "
    "offset UInt64, written DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY alert_id"
)


@dataclass
class SinkState:
    """What the consumer has committed: next offset per partition, and when each commit was."""

    committed: dict[int, int] = field(default_factory=dict)
    commit_times: list[float] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def total(self) -> int:  # a fresh topic: offsets start at 0
        return sum(self.committed.values())


async def produce(
    bootstrap: str, topic: str, produced: list[str], started: asyncio.Event | None = None
) -> None:
    """``ROUNDS`` rounds of alerts, ``PACE_S`` apart; after the first few rounds, waits for
    ``started`` (the sink's first commit), so that most alerts arrive while the sink runs."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for r in range(ROUNDS):
            ids = [f"camera:{r}-{i}" for i in range(PER_ROUND)]
            for alert_id in ids:
                await producer.send(topic, alert_id.encode(), key=alert_id.encode())
            await producer.flush()
            produced.extend(ids)
            if started is not None and r == 3:
                await asyncio.wait_for(started.wait(), timeout=60)
            await asyncio.sleep(PACE_S)
    finally:
        await producer.stop()


async def sink(
    bootstrap: str,
    topic: str,
    group: str,
    warehouse,
    state: SinkState,
    until: int,
    commit: bool = True,
    max_batches: int | None = None,
) -> None:
    """Drain ``topic`` into ``received``: write (retrying), then commit; stop at ``until``."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # a successor takes over a dead sink's partitions sooner
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        rebalance_timeout_ms=3000,
    )
    await consumer.start()
    try:
        batches = 0
        while state.total < until and (max_batches is None or batches < max_batches):
            fetched = await consumer.getmany(timeout_ms=200, max_records=100)
            records = [record for part in fetched.values() for record in part]
            if not records:
                continue
            rows = {
                "alert_id": [r.value.decode() for r in records],
                "partition": [r.partition for r in records],
                "offset": [r.offset for r in records],
            }
            await insert_with_retry(warehouse, "received", rows, POLICY)
            batches += 1
            if commit:
                await consumer.commit()
                for tp, part in fetched.items():
                    state.committed[tp.partition] = part[-1].offset + 1
                state.commit_times.append(time.monotonic())
                state.started.set()
    finally:
        await consumer.stop()


def group_offsets(bootstrap: str, group: str) -> dict[int, int]:
    """The consumer group's committed offsets, as the broker holds them."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None})[group]
        return {tp.partition: meta.offset for tp, meta in offsets.items()}
    finally:
        admin.close()


@pytest.fixture
def outage_setup(clickhouse_server, broker):
    tag = uuid.uuid4().hex[:10]
    topic = f"{tag}.outage"
    ensure_topics(broker.bootstrap, [topic], 2)
    warehouse = open_warehouse(clickhouse_server.url(f"outage_{tag}"))
    warehouse.execute(RECEIVED_DDL.format(db=warehouse.database))
    yield warehouse, topic, f"sink-{tag}"
    warehouse.close()


def test_a_killed_warehouse_blocks_the_sink_and_every_alert_lands_once(
    clickhouse_server, broker, outage_setup, caplog
):
    warehouse, topic, group = outage_setup
    db = warehouse.database
    n = ROUNDS * PER_ROUND
    produced: list[str] = []
    state = SinkState()

    async def scenario() -> dict[str, float]:
        producing = asyncio.create_task(
            produce(broker.bootstrap, topic, produced, started=state.started)
        )
        sinking = asyncio.create_task(sink(broker.bootstrap, topic, group, warehouse, state, n))
        deadline = time.monotonic() + 60
        while state.total < 5 * PER_ROUND:  # mid-stream: the producer is still going
            assert time.monotonic() < deadline and not sinking.done(), "the sink made no progress"
            await asyncio.sleep(0.01)
        clickhouse_server.kill()
        killed = time.monotonic()
        committed_at_kill, produced_at_kill = state.total, len(produced)
        await asyncio.sleep(OUTAGE_S)
        # what the broker holds as committed, the server still down
        committed_in_outage = await asyncio.to_thread(group_offsets, broker.bootstrap, group)
        restart_wall = time.time()
        # restart on the loop's (main) thread: the server dies with the thread that started it
        clickhouse_server.start()
        restarted = time.monotonic()
        await asyncio.wait_for(sinking, timeout=120)
        await producing
        return {
            "killed": killed,
            "restarted": restarted,
            "committed_at_kill": committed_at_kill,
            "produced_at_kill": produced_at_kill,
            "restart_wall": restart_wall,
            "committed_in_outage": committed_in_outage,
        }

    with caplog.at_level(logging.WARNING, logger="pipeline.warehouse.retry"):
        marks = asyncio.run(scenario())

    # the outage really was mid-stream: alerts were still arriving after the kill
    assert marks["produced_at_kill"] < n and marks["committed_at_kill"] < n
    # while the server was down the sink retried with backoff and committed nothing, except
    # the one batch whose write had already finished when the server died
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) >= 4, f"only {len(retries)} retries logged during a {OUTAGE_S} s outage"
    during = [t for t in state.commit_times if marks["killed"] < t < marks["restarted"]]
    assert len(during) <= 1, f"{len(during)} commits while the warehouse was down"
    # every message the broker had as committed during the outage had been written before the
    # server died (``written`` is the server's clock at insert; rewrites after the restart are
    # later), so no offset was committed past unwritten data
    first_written = {
        (p, o): w
        for p, o, w in warehouse.query(
            f"SELECT partition, offset, min(toUnixTimestamp(written)) FROM {db}.received "
            "GROUP BY partition, offset"
        )
    }
    committed = marks["committed_in_outage"]
    assert sum(committed.values()) >= marks["committed_at_kill"] > 0
    for partition, end in committed.items():
        late = [o for o in range(end) if first_written[partition, o] >= int(marks["restart_wall"])]
        assert not late, f"partition {partition}: offsets {late[:5]} committed before written"
    # and once it was back every alert arrived, each exactly once
    assert state.total == n
    assert warehouse.query(f"SELECT count(), uniqExact(alert_id) FROM {db}.received FINAL") == [
        (n, n)
    ]
    stored = {row[0] for row in warehouse.query(f"SELECT alert_id FROM {db}.received")}
    assert stored == set(produced) and len(produced) == n


def test_a_batch_written_but_not_committed_is_written_again_and_reads_once(broker, outage_setup):
    """A worker that dies between its write and its offset commit: its successor re-reads and
    re-writes the batch, and the table still reads as if it was written once."""
    warehouse, topic, group = outage_setup
    db = warehouse.database
    n = ROUNDS * PER_ROUND
    produced: list[str] = []

    async def scenario() -> None:
        await produce(broker.bootstrap, topic, produced)
        # the first worker writes three batches and dies before committing any of them
        await sink(
            broker.bootstrap, topic, group, warehouse, SinkState(), n, commit=False, max_batches=3
        )
        written_before = warehouse.query(f"SELECT count() FROM {db}.received")[0][0]
        assert 0 < written_before < n
        await sink(broker.bootstrap, topic, group, warehouse, SinkState(), n)

    asyncio.run(scenario())
    assert warehouse.query(f"SELECT count(), uniqExact(alert_id) FROM {db}.received FINAL") == [
        (n, n)
    ]
    assert {row[0] for row in warehouse.query(f"SELECT alert_id FROM {db}.received")} == set(
        produced
    )
