"""Notice events out to people: HTTP POSTs to a text-message gateway or chat bot per unit level.

Each event of ``hotspots.notices`` is addressed to units (``addressed_to``: its station,
community and street; after an escalation its district and ``city`` too). The settings give a
URL per unit *level* (``webhook_urls``: ``station``, ``community``, ``street``, ``district``,
``city``); an event goes to each distinct URL of the levels it addresses once, as JSON: the
event, and ``recipients``: the units of that URL's levels, each ``{"unit", "level"}``.

**At-least-once, idempotent by key.** A POST is retried until the server takes it (2xx): on a
connection error, a timeout, 408, 429 or 5xx, after a wait that doubles from
``webhook_retry_initial_s`` up to ``webhook_retry_max_s``. The caller commits an event's offset
only once every one of its POSTs is taken, so a crash or a server down for hours delays
notices, never loses one; a redelivered POST carries the same ``Idempotency-Key`` header, the
event id (deterministic: ``<notice id>/<n>``, the same on a replay), so the receiver drops the
copy. One event reaches one URL once, so the key is unique per endpoint. A 4xx other than 408
and 429 says the request itself is wrong (the gateway refuses it): retrying cannot help, so it
is given up, logged and counted, and the rest goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from .wire import NoticeEvent

__all__ = ["LEVELS", "Post", "WebhookPolicy", "deliver", "posts_for"]

log = logging.getLogger(__name__)

#: unit levels a URL can be set for, and the event field naming the unit of each
LEVELS = {
    "station": "station_id",
    "community": "community_code",
    "street": "street_code",
    "district": "district_code",
}
CITY = "city"
#: statuses worth a retry: the server is busy, restarting or asks to slow down
_RETRY = {408, 429}


class Post(msgspec.Struct, frozen=True):
    """One POST: where, its idempotency key, its JSON body."""

    url: str
    key: str
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    initial_s: float = 0.5
    max_s: float = 30.0
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings) -> WebhookPolicy:
        return cls(
            settings.webhook_retry_initial_s,
            settings.webhook_retry_max_s,
            settings.webhook_timeout_s,
        )

    def waits(self):
        """The waits between attempts: ``initial_s`` doubling up to ``max_s``, for ever."""
        wait = self.initial_s
        while True:
            yield wait
            wait = min(wait * 2, self.max_s)


def _level(event: NoticeEvent, unit: str) -> str | None:
    if unit == CITY:
        return CITY
    return next((lvl for lvl, f in LEVELS.items() if getattr(event, f) == unit), None)


def posts_for(event: NoticeEvent, urls: dict[str, str]) -> list[Post]:
    """The POSTs of one event: one per distinct URL among the levels it addresses (levels
    without a URL are not told)."""
    by_url: dict[str, list[dict]] = {}
    for unit in event.addressed_to:  # a handful of units
        level = _level(event, unit)
        if level is not None and urls.get(level):
            by_url.setdefault(urls[level], []).append({"unit": unit, "level": level})
    body = msgspec.to_builtins(event)
    return [
        Post(url, event.event_id, msgspec.json.encode({**body, "recipients": recipients}))
        for url, recipients in by_url.items()
    ]


async def deliver(
    session,
    post: Post,
    policy: WebhookPolicy,
    on_retry: Callable[[str], None] = lambda why: None,
    sleep=asyncio.sleep,
) -> bool:
    """POST until the server takes it (True) or refuses the request itself (False, logged);
    ``session`` is an ``aiohttp.ClientSession``."""
    import aiohttp

    headers = {"Content-Type": "application/json", "Idempotency-Key": post.key}
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    for wait in policy.waits():
        try:
            async with session.post(
                post.url, data=post.body, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return True
                if response.status < 500 and response.status not in _RETRY:
                    log.error(
                        "webhook refused notice event %s with HTTP %d: not retried (the request "
                        "is wrong for that gateway; check its URL and what it accepts)",
                        post.key,
                        response.status,
                    )
                    return False
                why = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = type(exc).__name__
        on_retry(why)
        log.warning(
            "webhook: notice event %s not taken (%s); retrying in %.1f s", post.key, why, wait
        )
        await sleep(wait)
    raise AssertionError("unreachable: waits() never ends")
