"""The Faust app: the worker's frame (lifecycle, web views, timers), built from a
:class:`~jobs.runtime.Runtime`.

Messages do not go through Faust agents: Faust's per-event streams (an ``Event``, an ack and
sensor calls per message, a future per produced record) held the worker to about 5k alerts/s
on this machine against 300k/s for raw aiokafka (benchmarks/README.md, issue 6). The app's
Kafka consumer and producer are therefore switched off, and its one extra service is the
:class:`~jobs.consumer.BatchConsumer`, which polls every input topic in one consumer group
(the app id) and hands each stage a whole poll. The app starts and stops it, serves
``/metrics``, and owns the timers and tasks.

Built by a factory rather than at import time, so settings decide everything and tests can
build several apps in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

import faust
from aiokafka.errors import KafkaError
from faust.app.base import BootStrategy
from mode import ServiceT
from prometheus_client import generate_latest

from pipeline.kafka import BatchProducer, free_port
from pipeline.marks import origin_count

from .consumer import BatchConsumer
from .publish import publish_marks
from .runtime import Runtime
from .stages import ack_intake_stage, correlate_stage, normalize_stage, record_sink_stage
from .watermarks import FeedProgress

__all__ = ["build_app", "PipelineApp"]

log = logging.getLogger(__name__)


class _FrameOnly(BootStrategy):
    """Sensors, web server, timers; no Faust consumer or producer (the pipeline has its own)."""

    enable_kafka = False


class PipelineApp(faust.App):
    """A Faust app whose message processing is a :class:`BatchConsumer` service."""

    BootStrategy = _FrameOnly
    pipeline: BatchConsumer
    declare_drained: Callable[[], Awaitable[None]]

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        return [*super().on_init_dependencies(), self.pipeline]


def build_app(runtime: Runtime) -> PipelineApp:
    settings = runtime.settings
    app = PipelineApp(
        settings.app_id,
        broker=f"kafka://{runtime.bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_allow_declare=False,  # the runtime created the topics with their partitions
        web_port=settings.web_port or free_port(),
        # Faust binds to web_bind (all interfaces by default); web_host only names the server
        # in its URLs. Both come from the one setting: loopback unless configured otherwise.
        web_bind=settings.web_host,
        web_host=settings.web_host,
    )
    producer = BatchProducer.from_settings(runtime.bootstrap, settings)
    topics = settings.topics
    progress = FeedProgress(settings)
    stages = [normalize_stage(runtime, producer, progress), correlate_stage(runtime, producer)]
    stages.append(ack_intake_stage(runtime, producer))
    stages += [
        record_sink_stage(runtime, table, topic)
        for table, topic in (
            ("deadletters", topics.deadletter),
            ("incidents", topics.incidents),
            ("flags", topics.flags),
            ("notice_events", topics.notices),
        )
    ]
    app.pipeline = BatchConsumer(runtime, producer, stages, loop=app.loop, beacon=app.beacon)
    if settings.idle_mark_s > 0:
        _idle_marks(app, runtime, producer, progress)

    async def declare_drained() -> None:
        """The group's input is complete: every feed partition, held here or not, declares
        the largest progress this worker saw (jobs.watermarks; jobs.worker says why all)."""
        every = set(range(origin_count(settings.partitions)))
        held = {
            int(progress.origins(tp.topic, [tp.partition])[0])
            for tp in app.pipeline.assignment()
            if tp.topic in settings.topics.feeds().values()
        }
        deliveries = await publish_marks(producer, runtime, progress.drained(every, held))
        runtime.progress.mark_produced(await asyncio.gather(*deliveries))

    app.declare_drained = declare_drained

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(generate_latest(runtime.metrics.registry), content_type="text/plain")

    return app


def _idle_marks(
    app: PipelineApp, runtime: Runtime, producer: BatchProducer, progress: FeedProgress
) -> None:
    """Wall-clock watermark marks for the quiet feed partitions (:mod:`jobs.watermarks`),
    checked a few times per ``idle_mark_s``."""
    feeds = set(runtime.settings.topics.feeds().values())

    @app.timer(interval=min(5.0, max(0.1, runtime.settings.idle_mark_s / 4)))
    async def idle_marks() -> None:
        quiet = await app.pipeline.quiet(feeds)
        marks = progress.idle({int(progress.origins(tp.topic, [tp.partition])[0]) for tp in quiet})
        if not len(marks):
            return
        try:
            deliveries = await publish_marks(producer, runtime, marks)
            runtime.progress.mark_produced(await asyncio.gather(*deliveries))
        except KafkaError as exc:  # the broker away for a while: the next tick marks again
            log.warning("publishing idle watermark marks failed (%s); retrying", exc)
