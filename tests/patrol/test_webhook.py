"""Notice events to webhooks: which URL each goes to, and a real loopback server that refuses,
is down, or rejects, with the same idempotency key on every attempt."""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec

from pipeline.patrol import NoticeBook, PatrolParams
from pipeline.patrol.webhook import WebhookPolicy, deliver, posts_for
from tests.patrol.test_book import MINUTE, T0, flag
from tests.patrol.webhook_server import Gateway, free_port

FAST = WebhookPolicy(initial_s=0.05, max_s=0.2, timeout_s=2.0)


def events():
    book = NoticeBook(1, PatrolParams())
    return book.flags([flag()]) + book.due(T0 + 31 * MINUTE)  # issued, reminder, escalated


def test_each_event_goes_once_to_each_url_of_the_levels_it_addresses():
    issued, _, escalated = events()
    urls = {"station": "http://s/", "community": "http://s/", "district": "http://d/"}
    (post,) = posts_for(issued, urls)  # station and community share a URL: one POST
    body = msgspec.json.decode(post.body)
    assert (post.url, post.key) == ("http://s/", issued.event_id)
    assert body["recipients"] == [
        {"unit": "PS1", "level": "station"},
        {"unit": "C1", "level": "community"},
    ]
    assert body["kind"] == "issued" and body["notice_id"] == issued.notice_id
    urls["city"] = "http://c/"
    posted = {p.url: msgspec.json.decode(p.body)["recipients"] for p in posts_for(escalated, urls)}
    assert posted == {
        "http://d/": [{"unit": "D1", "level": "district"}],
        "http://c/": [{"unit": "city", "level": "city"}],
        "http://s/": [{"unit": "PS1", "level": "station"}, {"unit": "C1", "level": "community"}],
    }
    assert posts_for(issued, {"street": ""}) == []  # no URL: nobody told


def _deliver_all(posts, sleep=asyncio.sleep):
    async def run():
        async with aiohttp.ClientSession() as session:
            return [await deliver(session, p, FAST, sleep=sleep) for p in posts]

    return asyncio.run(run())


def test_a_server_down_for_a_while_then_busy_gets_every_event_with_its_key():
    port = free_port()
    gateway = Gateway(port, refused_first=2)
    posts = [p for e in events() for p in posts_for(e, {"station": gateway.url("/s")})]
    waits = []

    async def sleep(s):  # the server comes up after the third wait
        waits.append(s)
        if len(waits) == 3:
            gateway.start()
        await asyncio.sleep(s)

    try:
        assert _deliver_all(posts, sleep) == [True, True, True]
    finally:
        gateway.stop()
    assert [key for _, key, _ in gateway.taken] == [p.key for p in posts]
    assert gateway.answered[:2] == [503, 503]
    assert waits[:4] == [0.05, 0.1, 0.2, 0.2]  # doubling up to max_s, then steady


def test_a_request_the_gateway_rejects_is_given_up_and_the_rest_goes_on():
    gateway = Gateway(free_port(), reject_paths=("/bad",)).start()
    try:
        issued = events()[0]
        bad, good = posts_for(
            issued, {"station": gateway.url("/bad"), "street": gateway.url("/ok")}
        )
        assert _deliver_all([bad, good]) == [False, True]
    finally:
        gateway.stop()
    assert [(path, key) for path, key, _ in gateway.taken] == [("/ok", issued.event_id)]
