"""``hotspot notify``: deliver notice events to people through webhooks (see
:mod:`pipeline.patrol.webhook`).

Its own consumer group (``<app_id>-notify``) reads ``hotspots.notices``, so a gateway that is
down holds back notices only, never the worker; each partition's offset is committed after
every event before it was taken by every URL it goes to (at-least-once). Several of these
processes share the partitions like workers do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from .options import SettingsFile, kafka_brokers, settings_from

if TYPE_CHECKING:
    from pipeline.kafka.clients import Brokers

__all__ = ["notify"]

log = logging.getLogger(__name__)


def notify(
    settings_file: SettingsFile = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka HOST:PORT (else the settings').")
    ] = None,
    until_drained: Annotated[
        bool, typer.Option(help="Stop once every notice event already on the topic is taken.")
    ] = False,
) -> None:
    """Post notice events (issued, raised, reminder, escalated, the acks) to the webhook URL of
    each unit level they address (webhook_urls), retrying with backoff until taken."""
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(message)s")
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = settings_from(settings_file)
    urls = {level: url.get_secret_value() for level, url in settings.webhook_urls.items()}
    if not urls:
        raise typer.BadParameter(
            "no webhook_urls set: give a URL per unit level, e.g. "
            'HOTSPOT_WEBHOOK_URLS=\'{"station": "https://sms.example/hook"}\''
        )
    posted, refused = asyncio.run(
        _run(settings, kafka_brokers(settings, bootstrap), urls, until_drained)
    )
    typer.echo(f"notice events posted: {posted}, refused by the gateway: {refused}")


async def _run(settings, brokers: Brokers, urls: dict[str, str], until_drained: bool):
    import aiohttp
    import msgspec
    from aiokafka.errors import KafkaError
    from aiokafka.structs import OffsetAndMetadata

    from pipeline.exceptions import BrokerError
    from pipeline.patrol import NoticeEvent
    from pipeline.patrol.webhook import WebhookPolicy, deliver, posts_for

    policy = WebhookPolicy.from_settings(settings)
    decode = msgspec.json.Decoder(NoticeEvent).decode
    topic = settings.topics.notices
    consumer = brokers.consumer(  # with the settings' SASL and TLS options
        topic,
        group_id=f"{settings.app_id}-notify",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    posted = refused = 0
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()  # else aiokafka warns "Unclosed AIOKafkaConsumer"
        raise BrokerError(
            f"cannot reach Kafka at {brokers} ({exc}); check --bootstrap (the worker prints "
            "its broker's HOST:PORT) and that the broker runs"
        ) from exc
    try:
        async with aiohttp.ClientSession() as session:
            while True:
                fetched = await consumer.getmany(timeout_ms=1000)
                for tp, records in fetched.items():  # loop per partition
                    for record in records:  # loop per notice event: a few per slide
                        try:
                            event = decode(record.value)
                        except msgspec.DecodeError as exc:
                            log.error(
                                "%s[%d]@%d is not a notice event, skipped: %s",
                                tp.topic,
                                tp.partition,
                                record.offset,
                                exc,
                            )
                            continue
                        for post in posts_for(event, urls):
                            if await deliver(session, post, policy):
                                posted += 1
                            else:
                                refused += 1
                    offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "")}
                    await consumer.commit(offsets)
                if until_drained and not fetched and await _drained(consumer):
                    return posted, refused
    finally:
        await consumer.stop()


async def _drained(consumer) -> bool:
    """Whether this consumer holds partitions and has read each to its end."""
    held = sorted(consumer.assignment())
    if not held:
        return False
    ends = await consumer.end_offsets(list(held))
    positions = [await consumer.position(tp) for tp in held]
    return all(p >= ends[tp] for p, tp in zip(positions, held, strict=True))
