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

from collections.abc import Iterable

import faust
from faust.app.base import BootStrategy
from mode import ServiceT
from prometheus_client import generate_latest

from pipeline.kafka import BatchProducer, free_port

from .consumer import BatchConsumer
from .runtime import Runtime
from .stages import correlate_stage, normalize_stage, record_sink_stage

__all__ = ["build_app", "PipelineApp"]


class _FrameOnly(BootStrategy):
    """Sensors, web server, timers; no Faust consumer or producer (the pipeline has its own)."""

    enable_kafka = False


class PipelineApp(faust.App):
    """A Faust app whose message processing is a :class:`BatchConsumer` service."""

    BootStrategy = _FrameOnly
    pipeline: BatchConsumer

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
    stages = [normalize_stage(runtime, producer), correlate_stage(runtime, producer)]
    stages += [
        record_sink_stage(runtime, table, topic)
        for table, topic in (
            ("deadletters", topics.deadletter),
            ("incidents", topics.incidents),
            ("flags", topics.flags),
        )
    ]
    app.pipeline = BatchConsumer(runtime, producer, stages, loop=app.loop, beacon=app.beacon)

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(generate_latest(runtime.metrics.registry), content_type="text/plain")

    return app
