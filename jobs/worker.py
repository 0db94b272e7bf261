"""Run the Faust worker in this process, until stopped (Ctrl-C) or until drained."""

from __future__ import annotations

import asyncio
import logging

import faust

from .app import build_app
from .runtime import Runtime

__all__ = ["run_worker", "end_offsets", "committed_offsets"]

log = logging.getLogger(__name__)


def end_offsets(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """Current end offset of every partition of ``topics``."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return {(tp.topic, tp.partition): end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """Offsets the consumer group has committed (the next offset it would read)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        return {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
    finally:
        admin.close()


def _drained(runtime: Runtime, topics: list[str]) -> bool:
    """Every partition's last message was processed in this run or committed by an earlier one."""
    ends = end_offsets(runtime.bootstrap, topics)
    committed = committed_offsets(runtime.bootstrap, runtime.settings.app_id)
    pending = {tp: end for tp, end in ends.items() if committed.get(tp, -1) < end}
    return runtime.progress.reached(pending)


def run_worker(runtime: Runtime, *, until_drained: bool = False, loglevel: str = "warning") -> None:
    """Run the worker. With ``until_drained`` it stops once every message already in the input
    topics, and everything they produced, has been processed (the demo and the tests use it)."""
    app = build_app(runtime)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    if until_drained:
        _stop_when_drained(app, worker, runtime)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:  # mode's worker always ends with SystemExit
        if exc.code not in (0, None):
            raise


def _stop_when_drained(app: faust.App, worker: faust.Worker, runtime: Runtime) -> None:
    topics = runtime.settings.topics
    stages = [list(topics.feeds().values()), [topics.normalized, topics.deadletter]]

    @app.task
    async def stop_when_drained() -> None:
        for stage in stages:  # downstream topics only grow while upstream is still working
            while not await asyncio.to_thread(_drained, runtime, stage):
                await asyncio.sleep(0.25)
        log.info("drained: stopping the worker")
        asyncio.ensure_future(worker.stop())
