"""Kafka's default partition of keyed records, for whole batches of keys.

Kafka's Java client (and aiokafka's ``DefaultPartitioner``) put a keyed record in partition
``murmur2(key) & 0x7fffffff mod n``, so every version of a flag lands in one partition, in
order. aiokafka computes murmur2 in pure Python, one key at a time: about 5 µs a key, which
the worker's one thread paid for every flag and incident it published. Here one Numba kernel
hashes a batch's keys, with the same result (a property test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

__all__ = ["key_partitions"]


_MASK = 0xFFFFFFFF  # Numba widens uint32 products to 64 bits: keep the low 32 by hand


@numba.njit(cache=True, nogil=True)
def _murmur2(data: np.ndarray, starts: np.ndarray, out: np.ndarray) -> None:
    """Murmur2 (Kafka's seed and mixing) of ``data[starts[i]:starts[i + 1]]`` into ``out[i]``."""
    m = 0x5BD1E995
    for i in range(out.shape[0]):
        lo, hi = starts[i], starts[i + 1]
        length = hi - lo
        h = (0x9747B28C ^ length) & _MASK
        body = lo + (length // 4) * 4
        for j in range(lo, body, 4):
            k = (
                np.int64(data[j])
                | (np.int64(data[j + 1]) << 8)
                | (np.int64(data[j + 2]) << 16)
                | (np.int64(data[j + 3]) << 24)
            )
            k = (k * m) & _MASK
            k ^= k >> 24
            k = (k * m) & _MASK
            h = ((h * m) & _MASK) ^ k
        extra = length % 4
        if extra >= 3:
            h ^= np.int64(data[body + 2]) << 16
        if extra >= 2:
            h ^= np.int64(data[body + 1]) << 8
        if extra >= 1:
            h ^= np.int64(data[body])
            h = (h * m) & _MASK
        h ^= h >> 13
        h = (h * m) & _MASK
        h ^= h >> 15
        out[i] = h


def key_partitions(keys: Sequence[bytes], partitions: Sequence[int]) -> np.ndarray:
    """The partition (from ``partitions``, sorted by id) Kafka's default partitioner picks for
    each key."""
    lengths = np.fromiter(map(len, keys), np.int64, len(keys))
    starts = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    hashes = np.empty(len(keys), np.uint32)
    _murmur2(np.frombuffer(b"".join(keys), np.uint8), starts, hashes)
    index = (hashes & np.uint32(0x7FFFFFFF)) % np.uint32(len(partitions))
    return np.asarray(partitions)[index.astype(np.int64)]
