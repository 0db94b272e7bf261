"""Checkpoints on a compacted topic (pipeline/kafka/checkpoints.py): the record layout read back
as a compacted topic keeps it, torn writes, parts written once, and a round trip through a real
Tansu broker."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.exceptions import CheckpointError
from pipeline.kafka import BatchProducer, ensure_topics
from pipeline.kafka.checkpoints import (
    CHUNK_BYTES,
    Checkpoint,
    Written,
    checkpoint_records,
    latest_checkpoint,
    read_state,
    retired_keys,
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
                {b"3/manifest": kv[b"3/manifest"].replace(b'"format": 2', b'"format": 9')}
            ),
            "layout format 9",
        ),
        (lambda kv: kv.update({b"3/rows/2/bb/0": None}), "part rows/2/bb is missing"),
        (lambda kv: kv.update({b"3/rows/2/bb/0": b"x"}), "part rows/2/bb does not match"),
    ],
)
def test_a_damaged_checkpoint_is_refused_with_its_partition_and_reason(damage, reason):
    latest = _compacted(replace(_checkpoint(b"s" * (CHUNK_BYTES + 10)), parts={"rows/2/bb": b"b"}))
    damage(latest)
    with pytest.raises(CheckpointError, match=f"partition 3: .*{reason}"):
        latest_checkpoint(latest, 3)


def _with_parts(generation: int, **parts: bytes) -> Checkpoint:
    return replace(_checkpoint(b"state %d" % generation, generation), parts=parts)


def test_a_part_is_written_once_and_a_torn_write_never_loses_the_last_checkpoints_parts():
    big = b"p" * (CHUNK_BYTES + 3)  # two chunks
    first = _with_parts(0, **{"rows/1/aa": big, "rows/2/bb": b"b"})
    second = _with_parts(1, **{"rows/2/bb": b"b", "rows/3/cc": b"c"})
    keys, values = checkpoint_records(second, Written(parts=first.part_entries()))
    assert [k for k in keys if b"rows" in k] == [b"3/rows/3/cc/0"]  # bb is not written again
    assert {n: e["chunks"] for n, e in first.part_entries().items()} == {
        "rows/1/aa": 2,
        "rows/2/bb": 1,
    }

    latest = _compacted(first)
    torn = dict(latest)
    torn.update(zip(keys[:-1], values[:-1], strict=True))
    assert latest_checkpoint(torn, 3) == first  # died before its manifest: aa is still there
    latest.update(zip(keys, values, strict=True))
    retired = retired_keys(second, latest)
    assert retired == [b"3/rows/1/aa/0", b"3/rows/1/aa/1"]  # tombstones after the manifest
    latest |= dict.fromkeys(retired)
    assert latest_checkpoint(latest, 3) == second


def test_a_checkpoint_retires_whatever_its_manifest_does_not_need_but_the_other_slot():
    """What a writer killed before its tombstones, or a refused checkpoint, left on the topic is
    retired by the next checkpoint after a restore; the other slot's chunks are overwritten
    next time instead."""
    big = b"s" * (2 * CHUNK_BYTES + 1)  # three chunks in slot 0
    first = replace(_with_parts(0, **{"rows/1/aa": b"a"}), state=big)
    second = _with_parts(1, **{"rows/2/bb": b"b"})  # one chunk in slot 1
    third = _with_parts(2, **{"rows/2/bb": b"b"})  # one chunk in slot 0
    latest = _compacted(first, second)  # the writer of second died before its tombstones
    assert latest_checkpoint(latest, 3) == second
    restored = Written.read(latest, second)
    assert retired_keys(second, restored.keys) == [b"3/rows/1/aa/0"]
    assert retired_keys(third, restored.keys) == [b"3/0/1", b"3/0/2", b"3/rows/1/aa/0"]
    assert restored.parts == second.part_entries()
    # refused (or none): nothing is reused, and its parts are retired once no longer named
    refused = Written.read(latest | {b"3/rows/9/zz/0": None}, None)
    assert refused.parts == {} and b"3/rows/9/zz/0" not in refused.keys
    assert b"3/rows/2/bb/0" in checkpoint_records(third, refused)[0]


def test_checkpoints_their_parts_and_tombstones_round_trip_through_a_real_broker(broker):
    topic = f"{uuid.uuid4().hex[:8]}.checkpoints"
    ensure_topics(broker.bootstrap, [topic], 2, compacted={topic})
    state = b"s" * (2 * CHUNK_BYTES)
    first = replace(
        _with_parts(0, **{"rows/1/aa": b"a" * (CHUNK_BYTES + 1), "rows/2/bb": b"b"}), state=state
    )
    second = _with_parts(1, **{"rows/2/bb": b"b", "rows/3/cc": b"c"})

    async def run() -> tuple:
        producer = BatchProducer(
            broker.bootstrap, linger_ms=0, max_batch_bytes=512 << 10, max_request_bytes=8 << 20
        )
        await producer.start()
        try:
            before = await read_state(broker.bootstrap, topic, [3])
            written = await write_checkpoint(producer, topic, first)
            written = await write_checkpoint(producer, topic, second, written)
            return before, written, await read_state(broker.bootstrap, topic, [1, 3])
        finally:
            await producer.stop()

    before, written, after = asyncio.run(run())
    assert latest_checkpoint(before[3], 3) is None
    assert latest_checkpoint(after[3], 3) == second
    assert after[3][b"3/rows/1/aa/0"] is None and after[3][b"3/rows/1/aa/1"] is None  # tombstones
    assert written == Written.read(after[3], second)  # what the writer knows is what is there
    assert after[3][b"3/0/1"] is not None  # the other slot: overwritten next time
    assert latest_checkpoint(after[1], 1) is None  # same state partition, another key
