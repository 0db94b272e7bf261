"""Checkpoints of per-partition state on a compacted Kafka topic.

The Kafka Streams changelog (and Faust table) pattern: a worker's state for partition ``p`` of
its input lives in Kafka, keyed by ``p``, next to the input offset it covers. Whichever worker
is assigned ``p`` next, after a rebalance or a kill -9, reads the newest checkpoint, restores
the state and resumes its input at that offset; what it re-processes re-emits the same outputs,
which every sink treats idempotently.

A checkpoint can be larger than a Kafka record may be (a correlator's window holds megabytes),
so it is cut into chunks, written before a small manifest that names them and their SHA-256.
The chunks of consecutive checkpoints go to two alternating key slots: a checkpoint whose
writer dies half-way has overwritten only the *other* slot, so the last complete manifest still
finds every chunk it names. On a compacted topic each partition therefore keeps at most two
checkpoints' chunks and one manifest, however long the worker runs.

A checkpoint may also carry *parts*: named values that stay the same from one checkpoint to the
next (a correlator's settled rows, :mod:`pipeline.correlate.window.settled_rows`), whose name
changes whenever their bytes do. A part is written once, when a checkpoint first names it, under
its own keys; later checkpoints only name it in their manifests. Once a manifest no longer names
it, its keys get tombstones (after that manifest is written, so the last complete checkpoint
never loses a part). So a checkpoint writes what changed, not the whole state again.

A writer remembers what the topic holds of its partition (:class:`Written`): every key with a
value, read back when it restores. Each checkpoint retires every key its manifest does not need
(except the other slot's chunks, which the next checkpoint overwrites): parts no longer named,
chunks past the state's end, and what a writer killed before its tombstones, or a refused
checkpoint, left behind. So nothing stays on the topic for good.

Keys are ``b"<p>/manifest"``, ``b"<p>/<slot>/<chunk>"`` and ``b"<p>/<part name>/<chunk>"``;
checkpoint ``p`` goes to partition ``p`` of the state topic (modulo its partition count), so a
restore reads one partition.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from aiokafka import TopicPartition

from ..exceptions import BrokerError, CheckpointError
from .clients import Brokers, brokers
from .producer import BatchProducer
from .reading import read_to_end

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "Written",
    "checkpoint_records",
    "latest_checkpoint",
    "read_state",
    "write_checkpoint",
]

#: Version of the manifest and chunk layout (not of the state inside, which has its own); 2 added
#: parts, and reads 1 too.
CHECKPOINT_FORMAT = 2
#: Chunk size: well below a broker's default ``message.max.bytes`` (1 MiB).
CHUNK_BYTES = 256 << 10
_CHUNK_HEADER = struct.Struct(">QI")  # generation, chunk index


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """State of input partition ``partition`` after every record before ``offset``.

    ``partitions``: the input topic's partition count when it was written (state keyed by a
    partition means nothing once the topic is re-partitioned). ``generation`` counts the
    partition's checkpoints and picks the key slot. ``parts``: named values written once each
    (see the module docstring); a name must always stand for the same bytes.
    """

    partition: int
    partitions: int
    offset: int
    state: bytes
    generation: int
    written_ms: int
    parts: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of the state and every part it names."""
        return len(self.state) + sum(map(len, self.parts.values()))

    def part_entries(self, known: Mapping[str, dict] | None = None) -> dict[str, dict]:
        """Each part's manifest entry (chunks, size, SHA-256): as in ``known`` (the entries of
        the parts the last checkpoint wrote) or computed; :attr:`Written.parts` after it is
        written. Only new parts are hashed, so a checkpoint costs what changed."""
        known = known or {}
        return {name: known.get(name) or _entry(data) for name, data in sorted(self.parts.items())}

    def manifest(self, known: Mapping[str, dict] | None = None) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "partition": self.partition,
            "partitions": self.partitions,
            "offset": self.offset,
            "generation": self.generation,
            "chunks": _chunks(len(self.state)),
            "size": len(self.state),
            "sha256": hashlib.sha256(self.state).hexdigest(),
            "written_ms": self.written_ms,
            "parts": self.part_entries(known),
        }


@dataclass(frozen=True, slots=True)
class Written:
    """What the state topic holds of one partition, as its writer knows it.

    ``keys``: every key with a value (not a tombstone). ``parts``: the manifest entries of the
    parts the last complete checkpoint named, which the next one neither writes nor hashes
    again (:meth:`Checkpoint.part_entries`).
    """

    keys: frozenset[bytes] = frozenset()
    parts: Mapping[str, dict] = field(default_factory=dict)

    @classmethod
    def read(cls, latest: Mapping[bytes, bytes | None], checkpoint: Checkpoint | None) -> Written:
        """What a restore found: ``latest`` as :func:`read_state` gives it, and the checkpoint
        restored from it (None when there was none, or it was refused: its parts are then
        written again, and its keys retired)."""
        keys = frozenset(key for key, value in latest.items() if value is not None)
        return cls(keys, checkpoint.part_entries() if checkpoint is not None else {})


def _entry(data: bytes) -> dict:
    return {
        "chunks": _chunks(len(data)),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _chunks(size: int) -> int:
    return max(1, -(-size // CHUNK_BYTES))


def _manifest_key(partition: int) -> bytes:
    return f"{partition}/manifest".encode()


def _chunk_key(partition: int, slot: int, index: int) -> bytes:
    return f"{partition}/{slot}/{index}".encode()


def _part_key(partition: int, name: str, index: int) -> bytes:
    return f"{partition}/{name}/{index}".encode()


def checkpoint_records(
    checkpoint: Checkpoint, written: Written = Written()
) -> tuple[list[bytes], list[bytes]]:
    """Keys and values of ``checkpoint``'s records, in the order they must be written (the parts
    not in ``written``, the chunks, then the manifest)."""
    manifest = checkpoint.manifest(written.parts)
    p, gen, slot = checkpoint.partition, checkpoint.generation, checkpoint.generation % 2
    keys, values = [], []
    for name, data in sorted(checkpoint.parts.items()):
        if name in written.parts:
            continue
        for i in range(_chunks(len(data))):
            keys.append(_part_key(p, name, i))
            values.append(data[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES])
    for i in range(manifest["chunks"]):
        keys.append(_chunk_key(p, slot, i))
        chunk = checkpoint.state[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]
        values.append(_CHUNK_HEADER.pack(gen, i) + chunk)
    keys.append(_manifest_key(p))
    values.append(json.dumps(manifest, sort_keys=True).encode())
    return keys, values


def retired_keys(checkpoint: Checkpoint, held: Iterable[bytes]) -> list[bytes]:
    """The keys of ``held`` (what the topic holds of the partition) that ``checkpoint``'s
    manifest does not need, but for the other slot's chunks: tombstones for them, once that
    manifest is written, lose nothing."""
    p, slot = checkpoint.partition, checkpoint.generation % 2
    chunks = _chunks(len(checkpoint.state))
    needed = {_manifest_key(p)} | {_chunk_key(p, slot, i) for i in range(chunks)}
    for name, data in checkpoint.parts.items():
        needed.update(_part_key(p, name, i) for i in range(_chunks(len(data))))
    other_slot = f"{p}/{1 - slot}/".encode()
    return sorted(
        key
        for key in held
        if key not in needed
        and not (key.startswith(other_slot) and key[len(other_slot) :].isdigit())
    )


def latest_checkpoint(latest: dict[bytes, bytes], partition: int) -> Checkpoint | None:
    """The checkpoint of ``partition`` in ``latest`` (each key's newest value, as a compacted
    topic keeps it), or None when none was ever written.

    Raises :class:`CheckpointError` (with the reason) when the manifest or its chunks cannot be
    read back into exactly the state that was written.
    """
    raw = latest.get(_manifest_key(partition))
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
        fmt = manifest["format"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(partition, f"its manifest is not readable ({exc})") from exc
    if fmt not in (1, CHECKPOINT_FORMAT):
        raise CheckpointError(
            partition, f"it has layout format {fmt}; this version reads 1 to {CHECKPOINT_FORMAT}"
        )
    gen, slot = manifest["generation"], manifest["generation"] % 2
    parts = []
    for i in range(manifest["chunks"]):
        value = latest.get(_chunk_key(partition, slot, i))
        if value is None or len(value) < _CHUNK_HEADER.size:
            raise CheckpointError(partition, f"chunk {i} of generation {gen} is missing")
        if _CHUNK_HEADER.unpack_from(value) != (gen, i):
            raise CheckpointError(
                partition, f"chunk {i} belongs to another generation than {gen} (two writers?)"
            )
        parts.append(value[_CHUNK_HEADER.size :])
    state = b"".join(parts)
    if len(state) != manifest["size"] or hashlib.sha256(state).hexdigest() != manifest["sha256"]:
        raise CheckpointError(partition, "its chunks do not match the manifest's checksum")
    return Checkpoint(
        partition=partition,
        partitions=manifest["partitions"],
        offset=manifest["offset"],
        state=state,
        generation=gen,
        written_ms=manifest["written_ms"],
        parts={
            name: _read_part(latest, partition, name, info)
            for name, info in manifest.get("parts", {}).items()
        },
    )


def _read_part(latest: dict[bytes, bytes], partition: int, name: str, info: dict) -> bytes:
    chunks = [latest.get(_part_key(partition, name, i)) for i in range(info["chunks"])]
    if any(chunk is None for chunk in chunks):
        raise CheckpointError(partition, f"part {name} is missing (deleted by another writer?)")
    data = b"".join(chunks)
    if len(data) != info["size"] or hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise CheckpointError(partition, f"part {name} does not match the manifest's checksum")
    return data


async def write_checkpoint(
    producer: BatchProducer,
    topic: str,
    checkpoint: Checkpoint,
    written: Written = Written(),
    failpoint: Callable[[str], None] | None = None,
) -> Written:
    """Write ``checkpoint``'s new parts and chunks, then (once the broker has them) its manifest,
    to one partition, then tombstones for every key it retires (:func:`retired_keys`); return
    what the topic holds now, once the broker has it all. ``written``: what it held before
    (the last checkpoint's return, or :meth:`Written.read` after a restore).

    ``failpoint`` (a crash test's, :mod:`jobs.failpoints`) is called with ``"checkpoint-torn"``
    once the chunks are on the broker and the manifest is not, and with
    ``"checkpoint-retiring"`` once the manifest is and the tombstones it brings are not."""
    keys, values = checkpoint_records(checkpoint, written)
    available = await producer.partitions(topic)
    partition = available[checkpoint.partition % len(available)]

    async def send(keys: list[bytes], values: list) -> None:
        await asyncio.gather(
            *await producer.send(topic, np.full(len(keys), partition), keys, values)
        )

    await send(keys[:-1], values[:-1])  # the chunks
    if failpoint is not None:
        failpoint("checkpoint-torn")
    await send(keys[-1:], values[-1:])  # the manifest, once the broker has every chunk
    held = written.keys | frozenset(keys)
    retired = retired_keys(checkpoint, held)
    if retired:  # a compacted topic then drops them
        if failpoint is not None:
            failpoint("checkpoint-retiring")
        await send(retired, [None] * len(retired))
    return Written(held - frozenset(retired), checkpoint.part_entries(written.parts))


async def read_state(
    bootstrap: Brokers | str,
    topic: str,
    partitions: Iterable[int],
    *,
    timeout_s: float = 60.0,
) -> dict[int, dict[bytes, bytes]]:
    """For each of ``partitions``, the newest value of every key in the state-topic partition
    that holds its checkpoints (what a compacted topic keeps); pass one to
    :func:`latest_checkpoint`.

    Each partition is read from its start to its end with a fresh consumer outside any group
    (:func:`~pipeline.kafka.reading.read_partitions`: why the end is the fetch responses' high
    watermark, and why a fresh consumer).
    """
    consumer = brokers(bootstrap).consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.topics(), timeout_s)  # the cluster's metadata
        available = sorted(consumer.partitions_for_topic(topic) or ())
        if not available:
            raise BrokerError(f"the state topic {topic} does not exist; start the worker once")
        holder = {p: TopicPartition(topic, available[p % len(available)]) for p in partitions}
        read = await read_to_end(consumer, dict.fromkeys(holder.values()), timeout_s=timeout_s)
    finally:
        await consumer.stop()
    latest = {tp: {r.key: r.value for r in records} for tp, records in read.items()}
    return {
        p: {k: v for k, v in latest[tp].items() if k.startswith(prefix)}
        for p, tp in holder.items()
        for prefix in [f"{p}/".encode()]
    }
