"""What the broker is asked while a worker group drains, by client and request type (issue 17
item 5): the requests behind the broker's CPU per alert that ``end_to_end.py`` prints.

The clients reach Tansu through a proxy in a child process, which forwards every byte and
tallies each request by the client id and the API key of its header: requests, request and
response bytes, and the time to the answer (for a fetch, how long the broker held it). Fetches
are split into those answered with under 2 KiB (nothing new: they waited) and the rest. The
proxy writes its running totals every 0.1 s, so the table covers the group's span only (first
input batch to last batch), over which ``end_to_end.py`` times the group and reads the
broker's CPU. One run of one group of ``--workers`` processes, on a backlog of the end-to-end
benchmark's city.

    PYTHONPATH=. .venv/bin/python benchmarks/broker_requests.py --messages 100000 --workers 1

Clients: ``aiokafka-*`` is a worker's consumer, ``aiokafka-producer-*`` its producer,
``hotspot-ends`` and ``hotspot-admin`` the drain check (``worker_group.WorkerGroup``). The
proxy adds a hop and a process to the machine, so read the rates beside ``end_to_end.py``'s,
not instead of them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import struct
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from end_to_end import group_run, simulate

from pipeline.kafka import EmbeddedBroker
from pipeline.kafka.embedded import free_port

#: Kafka API keys by name, for the ones a worker group sends
API = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    8: "OffsetCommit",
    9: "OffsetFetch",
    10: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    18: "ApiVersions",
    19: "CreateTopics",
}
EMPTY_FETCH_BYTES = 2048


async def _frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    return head + await reader.readexactly(struct.unpack(">i", head)[0])


def _request_name(frame: bytes) -> tuple[str, int]:
    """(client id, API key) from a request header (v1+: key, version, correlation id, client)."""
    api = struct.unpack(">h", frame[4:6])[0]
    length = struct.unpack(">h", frame[12:14])[0]
    client = frame[14 : 14 + length].decode(errors="replace") if length > 0 else "-"
    return client, api


async def _proxy(listen: int, upstream: int, out: str) -> None:
    """Forward ``listen`` to ``upstream``; every 0.1 s write (monotonic time, totals) to ``out``."""
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0, 0.0])

    async def requests(reader, writer, pending: collections.deque) -> None:
        while True:
            frame = await _frame(reader)
            pending.append((*_request_name(frame), len(frame), time.monotonic()))
            writer.write(frame)

    async def answers(reader, writer, pending: collections.deque) -> None:
        while True:  # Kafka answers the requests of one connection in order
            frame = await _frame(reader)
            client, api, sent_bytes, sent_at = pending.popleft()
            name = API.get(api, str(api))
            if api == 1:
                name += " (empty)" if len(frame) < EMPTY_FETCH_BYTES else " (records)"
            tally = totals[f"{client}|{name}"]
            tally[0] += 1
            tally[1] += sent_bytes
            tally[2] += len(frame)
            tally[3] += time.monotonic() - sent_at
            writer.write(frame)

    async def connection(client_reader, client_writer) -> None:
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", upstream)
        pending: collections.deque = collections.deque()
        try:
            await asyncio.gather(
                requests(client_reader, broker_writer, pending),
                answers(broker_reader, client_writer, pending),
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # one side closed: close both
        finally:
            broker_writer.close()
            client_writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", listen)
    async with server:
        with open(out, "w") as snapshots:
            while True:
                snapshots.write(json.dumps([time.monotonic(), totals]) + "\n")
                snapshots.flush()
                await asyncio.sleep(0.1)


def _run_proxy(listen: int, upstream: int, out: str) -> None:
    asyncio.run(_proxy(listen, upstream, out))


def _between(path: Path, first: float, last: float) -> dict[str, list[float]]:
    """The proxy's totals from the last snapshot before ``first`` to the first after ``last``."""
    snapshots = [json.loads(line) for line in path.read_text().splitlines()]
    before = max((s for s in snapshots if s[0] <= first), key=lambda s: s[0])
    after = min((s for s in snapshots if s[0] >= last), key=lambda s: s[0])
    return {
        key: [a - b for a, b in zip(totals, before[1].get(key, [0, 0, 0, 0.0]), strict=True)]
        for key, totals in after[1].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pin", action="store_true", help="as end_to_end.py --pin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work, listen = Path(tmp), free_port()
        broker = EmbeddedBroker(advertised_port=listen)
        tallies = work / "tallies.jsonl"
        proxy = multiprocessing.get_context("spawn").Process(
            target=_run_proxy, args=(listen, broker.port, str(tallies)), daemon=True
        )
        proxy.start()
        try:
            with broker:
                sim = simulate(work / "sim", args.messages, timedelta(minutes=30))
                result, _ = group_run(
                    broker, work, sim.replay, sim.registry, args.workers, None, args.pin
                )
                time.sleep(0.3)  # a snapshot after the span's end
        finally:
            proxy.terminate()
        first, last = result["span"]
        report(_between(tallies, first, last), result, last - first)


def report(counts: dict[str, list[float]], result: dict, span: float) -> None:
    messages, broker_us = result["messages"], result["cpu"]["broker"][1]
    print(
        f"{messages:,} messages in {span:.1f} s ({result['rate']:,.0f}/s); the broker: "
        f"{broker_us:.1f} µs of CPU per alert, {broker_us * messages / 1e6 / span:.2f} of a "
        "core over the span\n"
    )
    print(
        "| client | request | requests | per 1,000 alerts | per s | sent MB | answered MB | "
        "mean wait ms |\n|---|---|---|---|---|---|---|---|"
    )
    for key, (n, sent, answered, waited) in sorted(counts.items()):
        if n:
            client, name = key.split("|")
            print(
                f"| {client} | {name} | {n:,.0f} | {n * 1000 / messages:.2f} | {n / span:.1f} | "
                f"{sent / 1e6:.2f} | {answered / 1e6:.2f} | {waited * 1e3 / n:.1f} |"
            )


if __name__ == "__main__":
    main()
