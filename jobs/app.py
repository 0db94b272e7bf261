"""The Faust app: topics, agents and web views, built from a :class:`~jobs.runtime.Runtime`.

Built by a factory rather than at import time, so settings decide everything and tests can
build several apps in one process.
"""

from __future__ import annotations

import faust
from prometheus_client import generate_latest

from pipeline.alerts import SOURCES
from pipeline.broker.embedded import free_port

from .agents import alerts_sink_agent, correlate_agent, normalize_agent, record_sink_agent
from .runtime import Runtime

__all__ = ["build_app"]


def build_app(runtime: Runtime) -> faust.App:
    settings = runtime.settings
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{runtime.bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_allow_declare=False,  # the runtime created the topics with their partitions
        consumer_auto_offset_reset="earliest",
        web_port=settings.web_port or free_port(),
        web_host="127.0.0.1",
        broker_commit_every=settings.batch_max,
        broker_commit_interval=1.0,
        # The broker holds a join open for part of this timeout waiting for other members, so it
        # bounds how long a (re)start takes before the first message is processed.
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        # Agents work in batches: let the fetcher and the stream buffers hold several batches
        # so an agent never waits on a half-empty buffer (defaults hold ~4k messages).
        broker_max_poll_records=settings.batch_max * 4,
        stream_buffer_maxsize=settings.batch_max * 8,
        consumer_max_fetch_size=8 * 1024 * 1024,
        stream_wait_empty=False,
        producer_linger=0.005,
        # below Apache Kafka's default message.max.bytes (1 MiB), which bounds a record batch
        producer_max_batch_size=256 * 1024,
        producer_max_request_size=8 * 1024 * 1024,
    )
    topics = settings.topics

    def add(name: str, topic: str, function) -> None:
        runtime.progress.register(name, topic)
        app.agent(app.topic(topic), name=name)(function)

    for source in SOURCES:
        add(f"normalize_{source}", topics.feed(source), normalize_agent(app, runtime, source))
    add("correlate", topics.normalized, correlate_agent(app, runtime))
    add("sink_alerts", topics.normalized, alerts_sink_agent(app, runtime))
    for table, topic in (("deadletters", topics.deadletter), ("incidents", topics.incidents),
                         ("flags", topics.flags)):
        add(f"sink_{table}", topic, record_sink_agent(app, runtime, table))

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(generate_latest(runtime.metrics.registry), content_type="text/plain")

    return app
