"""Checkpoints on a compacted topic (pipeline/kafka/checkpoints.py): the record layout read back
as a compacted topic keeps it, torn writes, and a round trip through a real Tansu broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.exceptions import CheckpointError
from pipeline.kafka import BatchProducer, ensure_topics
from pipeline.kafka.checkpoints import (
    CHUNK_BYTES,
    Checkpoint,
    checkpoint_records,
    latest_checkpoint,
    read_state,
    write_checkpoint,
)


def _checkpoint(state: bytes, generation: int = 0, partition: int = 3) -> Checkpoint:
    return Checkpoint(partition, 4, 1000 + generation, state, generation, 1_700_000_000_000)


def _compacted(*checkpoints: Checkpoint, torn: int | None = None) -> dict[bytes, bytes]:
    """Each key's newest value after writing ``checkpoints`` in order; with ``torn``, the last
    one's writer died after that many of its records."""
    latest: dict[bytes, bytes] = {}
    for i, checkpoint in enumerate(checkpoints):
        keys, values = checkpoint_records(checkpoint)
        if torn is not None and i == len(checkpoints) - 1:
            keys, values = keys[:torn], values[:torn]
        latest.update(zip(keys, values, strict=True))
    return latest


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 3 * CHUNK_BYTES + 5), min_size=1, max_size=4),
    torn=st.integers(0, 5),
)
def test_the_newest_complete_checkpoint_is_read_back_whatever_a_torn_write_left(sizes, torn):
    checkpoints = [_checkpoint(bytes([g % 251]) * n, g) for g, n in enumerate(sizes)]
    complete = _compacted(*checkpoints)
    assert latest_checkpoint(complete, 3) == checkpoints[-1]
    # the last writer died before its manifest: the one before it is still whole
    records = len(checkpoint_records(checkpoints[-1])[0])
    if torn < records:
        expected = checkpoints[-2] if len(checkpoints) > 1 else None
        assert latest_checkpoint(_compacted(*checkpoints, torn=torn), 3) == expected


def test_no_manifest_means_no_checkpoint():
    assert latest_checkpoint({}, 0) is None
    assert latest_checkpoint(_compacted(_checkpoint(b"x", partition=1)), 0) is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda kv: kv.update({b"3/manifest": b"{not json"}), "manifest is not readable"),
        (lambda kv: kv.pop(b"3/0/1"), "chunk 1 of generation 0 is missing"),
        (lambda kv: kv.update({b"3/0/0": kv[b"3/0/0"][:-1] + b"?"}), "checksum"),
        (
            lambda kv: kv.update(
                {b"3/manifest": kv[b"3/manifest"].replace(b'"format": 1', b'"format": 9')}
            ),
            "layout format 9",
        ),
    ],
)
def test_a_damaged_checkpoint_is_refused_with_its_partition_and_reason(damage, reason):
    latest = _compacted(_checkpoint(b"s" * (CHUNK_BYTES + 10)))
    damage(latest)
    with pytest.raises(CheckpointError, match=f"partition 3: .*{reason}"):
        latest_checkpoint(latest, 3)


def test_checkpoints_round_trip_through_a_real_broker(broker):
    topic = f"{uuid.uuid4().hex[:8]}.checkpoints"
    ensure_topics(broker.bootstrap, [topic], 2, compacted={topic})
    first, second = _checkpoint(b"a" * (2 * CHUNK_BYTES), 0), _checkpoint(b"b" * 17, 1)

    async def run() -> tuple:
        producer = BatchProducer(
            broker.bootstrap, linger_ms=0, max_batch_bytes=512 << 10, max_request_bytes=8 << 20
        )
        await producer.start()
        try:
            before = await read_state(broker.bootstrap, topic, [3])
            for checkpoint in (first, second):
                await write_checkpoint(producer, topic, checkpoint)
            return before, await read_state(broker.bootstrap, topic, [1, 3])
        finally:
            await producer.stop()

    before, after = asyncio.run(run())
    assert latest_checkpoint(before[3], 3) is None
    assert latest_checkpoint(after[3], 3) == second
    assert latest_checkpoint(after[1], 1) is None  # same state partition, another key
