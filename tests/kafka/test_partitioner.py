"""Batch key partitioning picks the partition Kafka's default partitioner picks."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.kafka.partitioner import _murmur2, key_partitions


@settings(deadline=None)  # the first call loads the compiled kernel
@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 12))
def test_partitions_equal_aiokafkas_default_partitioner(keys, n):
    partitions = list(range(n))
    expected = [DefaultPartitioner()(k, partitions, partitions) for k in keys]
    assert key_partitions(keys, partitions).tolist() == expected


def test_hashes_equal_the_java_clients_murmur2():
    import numpy as np

    keys = [b"", b"a", b"ab", b"abc", b"abcd", b"flag-00000042:v3", bytes(range(256))]
    starts = np.cumsum([0] + [len(k) for k in keys]).astype(np.int64)
    out = np.empty(len(keys), np.uint32)
    _murmur2(np.frombuffer(b"".join(keys), np.uint8), starts, out)
    assert out.tolist() == [murmur2(k) for k in keys]
