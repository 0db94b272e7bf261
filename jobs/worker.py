"""Run the Faust worker in this process, until stopped (Ctrl-C) or until drained."""

from __future__ import annotations

import asyncio
import logging
import threading

import faust

from pipeline.kafka import committed_offsets

from .allocator import tune_allocator
from .app import PipelineApp, build_app
from .failpoints import arm
from .garbage_collector import tune_garbage_collector
from .runtime import Runtime

__all__ = ["run_worker"]

log = logging.getLogger(__name__)


def _high_watermarks(app: PipelineApp, topics: list[str]) -> dict[tuple[str, int], int] | None:
    """End of every assigned partition of ``topics``, as the last fetch response gave it.

    Taken from fetch responses rather than a ListOffsets request: Tansu has been seen answering
    ListOffsets with an end below messages it had already served. A fetch response may predate
    this worker's own output, which :meth:`Progress.consumed_own_output` covers.
    None until every partition has been fetched at least once.
    """
    marks = {}
    for tp in app.pipeline.assignment():
        if tp.topic in topics:
            mark = app.pipeline.highwater(tp)
            if mark is None:
                return None
            marks[(tp.topic, tp.partition)] = mark
    return marks or None


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
    ``inputs_complete`` too, only after that event is set (a producer still sending). Once
    its feeds are drained, the input is complete: every feed partition it holds declares the
    largest event time normalised (a watermark mark), so the correlators stand where a
    backfill of the same input without a final flush stands. ``ready`` is set once the worker
    holds its partitions and consumes.
    It assumes it is the only worker of its group."""
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
        committed = await asyncio.to_thread(
            committed_offsets, runtime.bootstrap, runtime.settings.app_id
        )
        for i, stage in enumerate(stages):  # downstream only grows while upstream works
            while not _drained(app, runtime, stage, committed):
                await asyncio.sleep(0.25)
            app.pipeline.hurry()  # the feeds are read: nothing is gained by batching the rest
            if i == 0:  # the input is complete: no feed partition holds the watermark back
                await app.declare_drained()
        log.info("drained: stopping the worker")
        asyncio.ensure_future(worker.stop())


def _drained(app, runtime: Runtime, stage: list[str], committed: dict) -> bool:
    """Every partition's last message was processed in this run or committed before it."""
    marks = _high_watermarks(app, stage)
    if marks is None:
        return False
    pending = {tp: end for tp, end in marks.items() if committed.get(tp, -1) < end}
    return runtime.progress.reached(pending) and runtime.progress.consumed_own_output(stage)
