"""A map of 64-bit keys to the last time each was seen, for duplicate checks that expire.

The dedupe index must forget an id once it is older than its horizon, at that moment and not
whenever a bulk clean-up happens to run: with a set of keys alone, an id reused after the
horizon (110 dispatch numbers that restart each year, two histories loaded in one backfill) was
dropped as a duplicate or kept depending on how many batches had passed since the last clean-up.
Holding each key's time answers "seen since ``t``?" exactly, and the clean-up becomes a matter of
memory only.

An open-addressing table (linear probing, power-of-two capacity, at most two thirds full) with
the times beside the keys; a batch costs its own size. Key 0 marks an empty slot, so a key of 0
is stored as 1 (two ids then share a key with probability about ``2**-63`` more).
"""

from __future__ import annotations

import numba
import numpy as np

from pipeline.geo.kernels import probe, table_capacity

__all__ = ["KeyTimes"]

_EMPTY = np.uint64(0)  # a free slot: keys are stored non-zero (:func:`_nonzero`)
_NEVER = np.iinfo(np.int64).min


@numba.njit(cache=True, nogil=True)
def _put(table, times, keys, at):
    """Set each key's time to the larger of its time and ``at[i]``; returns how many were new."""
    added = 0
    for i in range(keys.shape[0]):
        k = keys[i]
        s = probe(table, k, _EMPTY)
        if table[s] == 0:
            table[s] = k
            times[s] = at[i]
            added += 1
        elif at[i] > times[s]:
            times[s] = at[i]
    return added


@numba.njit(cache=True, nogil=True)
def _get(table, times, keys, never, out):
    for i in range(keys.shape[0]):
        s = probe(table, keys[i], _EMPTY)
        out[i] = times[s] if table[s] == keys[i] else never


def _nonzero(keys: np.ndarray) -> np.ndarray:
    keys = np.ascontiguousarray(keys, np.uint64)
    return np.where(keys == 0, np.uint64(1), keys)


class KeyTimes:
    """``uint64`` key -> the latest ``int64`` time it was put with.

    >>> m = KeyTimes()
    >>> m.put(np.array([3, 7, 3], np.uint64), np.array([10, 20, 5]))
    >>> m.seen_since(np.array([3, 7, 9], np.uint64), 15).tolist()
    [False, True, False]
    """

    def __init__(self) -> None:
        self._table = np.zeros(table_capacity(0), np.uint64)
        self._times = np.zeros(len(self._table), np.int64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def put(self, keys: np.ndarray, at: np.ndarray) -> None:
        keys, at = _nonzero(keys), np.ascontiguousarray(at, np.int64)
        if 3 * (self._size + len(keys)) > 2 * len(self._table):
            self._rehash(table_capacity(self._size + len(keys)), _NEVER)
        self._size += _put(self._table, self._times, keys, at)

    def seen_since(self, keys: np.ndarray, since: int) -> np.ndarray:
        """Boolean mask: which ``keys`` were put with a time ``>= since``."""
        keys = _nonzero(keys)
        out = np.empty(len(keys), np.int64)
        _get(self._table, self._times, keys, _NEVER, out)
        return (out != _NEVER) & (out >= since)

    def oldest(self) -> int:
        """The least time held (int64 max when empty)."""
        held = self._table != 0
        return int(self._times[held].min()) if held.any() else np.iinfo(np.int64).max

    def forget_before(self, since: int) -> None:
        """Drop the keys last put with a time ``< since`` (memory only: :meth:`seen_since`
        already ignores them)."""
        self._rehash(table_capacity(self._size), since)

    def _rehash(self, capacity: int, since: int) -> None:
        live = (self._table != 0) & (self._times >= since)
        keys, times = self._table[live], self._times[live]
        self._table = np.zeros(max(capacity, table_capacity(len(keys))), np.uint64)
        self._times = np.zeros(len(self._table), np.int64)
        self._size = _put(self._table, self._times, keys, times)
