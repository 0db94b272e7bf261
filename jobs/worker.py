"""Run the Faust worker in this process, until stopped (Ctrl-C) or until drained."""

from __future__ import annotations

import asyncio
import logging
import threading

import faust

from pipeline.kafka import GroupDrain

from .allocator import tune_allocator
from .app import PipelineApp, build_app
from .failpoints import arm
from .garbage_collector import tune_garbage_collector
from .runtime import Runtime

__all__ = ["run_worker"]

log = logging.getLogger(__name__)


def run_worker(
    runtime: Runtime,
    *,
    until_drained: bool = False,
    inputs_complete: threading.Event | None = None,
    ready: threading.Event | None = None,
    loglevel: str = "warning",
) -> None:
    """Run the worker. With ``until_drained`` it stops once every message in the input topics,
    and everything they produced, has been processed (the demo and the tests use it); with
    ``inputs_complete`` too, only after that event is set (a producer still sending).

    "Drained" is the group's, not this worker's: every partition of the feed topics, and then
    of ``alerts.normalized`` and the topics its sinks read, committed by the group to its end
    (twice in a row with the same ends: downstream grows while upstream works). So several
    workers of one group, each run ``--until-drained``, stop once all the input is processed,
    whichever partitions each held. Once the feeds are drained, the input is complete: the
    worker declares, for every feed partition (not only those it holds), the largest event
    time it normalised (watermark marks); correlators keep the largest progress declared per
    feed partition, so with every worker of the group doing so they stand where one worker,
    and a backfill of the same input without a final flush, stand. ``ready`` is set once the
    worker holds its partitions and consumes."""
    arm(runtime.settings.failpoint)
    tune_allocator()
    app = build_app(runtime)
    tune_garbage_collector()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    # Faust's start-up spinner sets the root logger to DEBUG to spin on every record: every
    # debug call of aiokafka (several per fetch and produce) then built a LogRecord.
    worker.spinner = None
    if ready is not None:
        _signal_ready(app, runtime, ready)
    if until_drained:
        _stop_when_drained(app, worker, runtime, inputs_complete)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:  # mode's worker always ends with SystemExit
        if exc.code not in (0, None):
            raise


def _signal_ready(app: PipelineApp, runtime: Runtime, ready: threading.Event) -> None:
    feeds = set(runtime.settings.topics.feeds().values())

    @app.task
    async def signal_ready() -> None:
        while not feeds <= {tp.topic for tp in app.pipeline.assignment()}:
            await asyncio.sleep(0.05)
        ready.set()


def _stop_when_drained(
    app: PipelineApp,
    worker: faust.Worker,
    runtime: Runtime,
    inputs_complete: threading.Event | None,
) -> None:
    topics = runtime.settings.topics
    stages = [
        [*topics.feeds().values(), topics.acks],
        [topics.normalized, topics.deadletter, topics.incidents, topics.flags],
    ]

    @app.task
    async def stop_when_drained() -> None:
        while inputs_complete is not None and not inputs_complete.is_set():
            await asyncio.sleep(0.25)
        for i, stage in enumerate(stages):  # downstream only grows while upstream works
            await _until_group_drained(runtime, stage)
            app.pipeline.hurry()  # the feeds are read: nothing is gained by batching the rest
            if i == 0:  # the input is complete: no feed partition holds the watermark back
                await app.declare_drained()
        log.info("drained: the group has processed all its input; stopping the worker")
        asyncio.ensure_future(worker.stop())


async def _until_group_drained(runtime: Runtime, topics: list[str]) -> None:
    """Until the group has drained ``topics`` (:class:`pipeline.kafka.GroupDrain`)."""
    drain = GroupDrain(runtime.brokers, runtime.settings.app_id, topics)
    while not await drain.check():
        await asyncio.sleep(0.25)
