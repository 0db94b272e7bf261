"""Producing envelopes (issue 6): one ``send`` per message against whole record batches.

Same broker (Tansu), same 600-byte values, four partitions, delivery of everything awaited:

* per message  — ``await producer.send(...)`` for each record, as the Faust agents did through
                 ``app.producer.send`` (Faust adds its own per-message work on top of this);
* batches      — :class:`pipeline.kafka.BatchProducer`: records appended to aiokafka's C
                 record-batch builder, one ``send_batch`` and one future per batch.

    PYTHONPATH=. .venv/bin/python benchmarks/produce.py --messages 200000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import numpy as np

from pipeline.kafka import EmbeddedBroker, ensure_topics

PARTITIONS = 4


async def _per_message(bootstrap: str, topic: str, values: list[bytes]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 << 10
    )
    await producer.start()
    try:
        began = time.perf_counter()
        futures = [
            await producer.send(topic, v, key=b"k", partition=i % PARTITIONS)
            for i, v in enumerate(values)
        ]
        await asyncio.gather(*futures)
        return len(values) / (time.perf_counter() - began)
    finally:
        await producer.stop()


async def _batches(bootstrap: str, topic: str, values: list[bytes]) -> float:
    from pipeline.kafka import BatchProducer

    producer = BatchProducer(
        bootstrap, linger_ms=2, max_batch_bytes=512 << 10, max_request_bytes=8 << 20
    )
    await producer.start()
    try:
        began = time.perf_counter()
        partitions = np.arange(len(values)) % PARTITIONS
        await asyncio.gather(*await producer.send(topic, partitions, [b"k"] * len(values), values))
        return len(values) / (time.perf_counter() - began)
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    values = [os.urandom(300).hex().encode() for _ in range(args.messages)]
    single, batched = [], []
    with EmbeddedBroker() as broker:
        for run in range(args.runs):
            topics = [f"produce-{uuid.uuid4().hex[:6]}" for _ in range(2)]
            ensure_topics(broker.bootstrap, topics, PARTITIONS)
            single.append(asyncio.run(_per_message(broker.bootstrap, topics[0], values)))
            batched.append(asyncio.run(_batches(broker.bootstrap, topics[1], values)))
            print(
                f"run {run + 1}: per message {single[-1]:,.0f}/s   batches {batched[-1]:,.0f}/s"
                f"   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    s, b = statistics.median(single), statistics.median(batched)
    print(f"\nmedian of {args.runs} runs, {args.messages:,} x 600 B records on Tansu")
    print(f"  one send per message   {s:>10,.0f} records/s")
    print(f"  whole record batches   {b:>10,.0f} records/s")
    print(f"  batches / per message  {b / s:>10.2f}x")


if __name__ == "__main__":
    main()
