"""The broker's CPU per feed record (issue 17 item 5): what Tansu itself spends to take a
record in and to hand it out, on the machine the workers share with it.

The end-to-end benchmark charges the broker's CPU while a worker group drains to each alert
(``end_to_end.py``, row "the broker"). This one separates the two things every design of the
worker must ask of the broker for each feed record, whatever the worker does with it:

* produce — the replay tool sending the simulated feeds (kafka-python, ``acks=1``), as a
            city's feeds would;
* fetch   — raw ``aiokafka`` consumption of the four feed topics plus decoding every value,
            the ceiling of ``ingest.py`` and ``end_to_end.py``.

Each run uses fresh topics on one embedded broker; the broker's CPU (user + system, from
``/proc``) over each phase is divided by the records moved. Medians of ``--runs``.

    PYTHONPATH=. .venv/bin/python benchmarks/broker_cost.py --messages 200000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from end_to_end import PARTITIONS  # the partition count of the end-to-end runs (script folder)
from ingest import raw_ceiling, run_topics, simulate

from pipeline.alerts import SOURCES
from pipeline.kafka import EmbeddedBroker, ensure_topics, send_chunks
from pipeline.replay import read_jsonl_chunks


def one_run(broker: EmbeddedBroker, replay: Path) -> dict[str, float]:
    topics = run_topics(f"b{uuid.uuid4().hex[:8]}")
    ensure_topics(broker.bootstrap, topics.all(), PARTITIONS)
    renamed = {f"alerts.{s}": topics.feed(s) for s in SOURCES}
    began_cpu, began = broker.cpu_s(), time.perf_counter()
    sent = send_chunks(read_jsonl_chunks(replay, []), broker.bootstrap, topic_map=renamed)
    produce_cpu, produce_s = broker.cpu_s() - began_cpu, time.perf_counter() - began
    began_cpu = broker.cpu_s()
    rate = asyncio.run(raw_ceiling(broker.bootstrap, topics, sent))
    fetch_cpu = broker.cpu_s() - began_cpu
    return {
        "records": sent,
        "produce_us": produce_cpu * 1e6 / sent,
        "produce_rate": sent / produce_s,
        "fetch_us": fetch_cpu * 1e6 / sent,
        "fetch_rate": rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        _, replay, _ = simulate(Path(tmp), args.messages)
        runs = [one_run(broker, replay) for _ in range(args.runs)]
    for i, r in enumerate(runs, 1):
        print(
            f"run {i}: {r['records']:,} records; produce {r['produce_rate']:,.0f}/s, broker "
            f"{r['produce_us']:.1f} µs a record; fetch {r['fetch_rate']:,.0f}/s, broker "
            f"{r['fetch_us']:.1f} µs a record"
        )
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"\nmedian of {len(runs)}: the broker's CPU per feed record: produce "
        f"{med['produce_us']:.1f} µs, fetch {med['fetch_us']:.1f} µs, both "
        f"{med['produce_us'] + med['fetch_us']:.1f} µs"
    )


if __name__ == "__main__":
    main()
