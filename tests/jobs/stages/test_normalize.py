"""The normalise stage retries a failed batch whole (jobs/stages/normalize.py).

Real Tansu broker and chDB; the stage is called in this process, as the poll loop calls it. The
alerts table is renamed away before the first try, so storing the batch fails the way a real
rejection does, and the stage raises (the poll loop would re-fetch the batch). With the table
back, the same records go through again: none may be dropped as a duplicate of the failed try.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from jobs.consumer import Polled
from jobs.runtime import open_runtime
from jobs.stages import normalize_stage
from pipeline.exceptions import WarehouseError
from pipeline.kafka import BatchProducer
from tests.jobs.test_worker import camera, encode, envelopes, produce

pytestmark = pytest.mark.timeout(300)


async def _poll_all(bootstrap: str, topic: str, count: int) -> Polled:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts: dict[int, list] = {}
        while sum(map(len, parts.values())) < count:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                parts.setdefault(tp.partition, []).extend(records)
        return Polled.of(topic, parts)
    finally:
        await consumer.stop()


async def _fail_then_retry(runtime, polled: Polled) -> None:
    db = runtime.warehouse.database
    producer = BatchProducer.from_settings(runtime.bootstrap, runtime.settings)
    await producer.start()
    try:
        stage = normalize_stage(runtime, producer)
        runtime.warehouse.execute(f"RENAME TABLE {db}.alerts TO {db}.alerts_away")
        with pytest.raises(WarehouseError):
            await stage.handle([polled])
        runtime.warehouse.execute(f"RENAME TABLE {db}.alerts_away TO {db}.alerts")
        await stage.handle([polled])
    finally:
        await producer.stop()


def test_a_batch_that_failed_to_store_is_not_taken_for_duplicates_when_retried(
    worker_config, located
):
    lat, lon, _ = located
    settings = worker_config.settings
    ids = [f"retry-{i}" for i in range(6)]
    produce(
        worker_config.bootstrap,
        [(settings.topics.camera, encode(camera(i, lat=lat, lon=lon))) for i in ids],
    )
    polled = asyncio.run(_poll_all(worker_config.bootstrap, settings.topics.camera, len(ids)))

    with open_runtime(settings) as runtime:
        asyncio.run(_fail_then_retry(runtime, polled))
        db = runtime.warehouse.database
        stored = sorted(
            r[0] for r in runtime.warehouse.query(f"SELECT alert_id FROM {db}.alerts FINAL")
        )

    expected = sorted(f"camera:{i}" for i in ids)
    assert stored == expected
    published = [
        e.alert_id
        for e in envelopes(worker_config.bootstrap, settings.topics.normalized)
        if not e.halo
    ]
    assert sorted(set(published)) == expected  # both tries published: at-least-once
