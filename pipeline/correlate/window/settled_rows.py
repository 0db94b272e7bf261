"""Settled rows: a checkpoint writes each of the window's rows once, not at every checkpoint.

A correlator's window holds the last half hour of alerts (and more while rows pend). A
checkpoint every 10 s that wrote the window whole would write each row about 180 times when
event time runs at the wall clock's pace, and its cost would follow the window, not the input
(Kafka Streams writes a changelog of what changed for the same reason). What makes a cheaper
checkpoint possible: no alert enters the window behind a closed slide boundary (it is late, or
a copy; :mod:`.event_time`), so the rows of an event-time bucket before that boundary only ever
leave, as the window slides past them. Such a *settled* bucket is written once, as an immutable
part, and each later checkpoint refers to it by name with one bit per row saying which of its
rows are still in the window. Only the rows after the boundary, the bits, and the ``pending``
column (one bit per row: it changes as incidents are emitted) are written every time.

A part's name carries a hash of its bytes, so a name always means the same rows: a writer can
skip a part it wrote before, and a reader can never mix two versions of one bucket. Should a
row ever enter a settled bucket after all, the bucket no longer matches its part and is
written again under a new name (:func:`_live_rows` finds out, in time linear in the rows).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from itertools import pairwise

import numba
import numpy as np

from .buffer import COLUMNS

__all__ = ["PART_PREFIX", "SettledRows", "join_rows"]

#: Names of parts start with this (and go on with the bucket's start, in ms, and a hash).
PART_PREFIX = "rows/"
#: The columns a part keeps: every buffer column but ``pending``, which changes after a row
#: settles, so it travels with every checkpoint instead.
PART_COLUMNS = tuple(name for name in COLUMNS if name != "pending")


@numba.njit(cache=True, nogil=True)
def _live_rows(part_t, part_k, t, k):
    """Which rows of a part (event times ``part_t``, keys ``part_k``) are among the rows
    ``(t, k)``, and whether those rows are all in it. Both are in canonical order and keys are
    unique, so one walk through both answers it."""
    live = np.zeros(part_t.shape[0], np.bool_)
    j = 0
    for i in range(part_t.shape[0]):
        if j < t.shape[0] and part_t[i] == t[j] and part_k[i] == k[j]:
            live[i] = True
            j += 1
    return live, j == t.shape[0]


class _Part:
    """A settled bucket's rows as written: the bytes, and the event times and keys they hold in
    order (to tell which of them are still live without reading the bytes again)."""

    __slots__ = ("data", "event_ms", "key", "name")

    def __init__(self, name: str, data: bytes, event_ms: np.ndarray, key: np.ndarray) -> None:
        self.name, self.data, self.event_ms, self.key = name, data, event_ms, key

    @classmethod
    def of(cls, bucket_ms: int, columns: Mapping[str, np.ndarray]) -> _Part:
        out = io.BytesIO()
        np.savez(out, **{name: columns[name] for name in PART_COLUMNS})
        data = out.getvalue()
        name = f"{PART_PREFIX}{bucket_ms}/{hashlib.sha256(data).hexdigest()[:16]}"
        return cls(name, data, columns["event_ms"].copy(), columns["key"].copy())

    @classmethod
    def read(cls, name: str, data: bytes) -> _Part:
        npz = np.load(io.BytesIO(data), allow_pickle=False)  # reads only the columns asked
        return cls(name, data, npz["event_ms"], npz["key"])


class SettledRows:
    """The parts of one correlator's settled buckets, as its last checkpoint wrote them.

    Not part of the correlator's state: a restored correlator adopts the parts it was restored
    from (:meth:`adopt`), so that its next checkpoint refers to them again.
    """

    def __init__(self, bucket_ms: int) -> None:
        self.bucket_ms = bucket_ms
        self._parts: dict[int, _Part] = {}  # bucket start -> part

    def adopt(self, parts: Mapping[str, bytes]) -> None:
        """Take the parts a checkpoint was restored from as already written."""
        self._parts = {
            int(name[len(PART_PREFIX) :].split("/")[0]): _Part.read(name, data)
            for name, data in parts.items()
        }

    def split(
        self, columns: Mapping[str, np.ndarray], settled_ms: int | None
    ) -> tuple[dict[str, np.ndarray], dict[str, bytes], dict[str, np.ndarray]]:
        """Cut the window's rows (``columns``, canonical) for a checkpoint.

        Rows of buckets that end at or before ``settled_ms`` (no row can enter them any more;
        None: none can be trusted to) go to parts. Returns the other rows' part columns, every
        part the rows need ``{name: bytes}``, and for each part which of its rows are still
        live. Parts whose rows have all left are forgotten.
        """
        if settled_ms is None:  # every row inline; the parts stay for the next checkpoint
            return {name: columns[name] for name in PART_COLUMNS}, {}, {}
        event_ms = columns["event_ms"]
        edge = settled_ms - settled_ms % self.bucket_ms  # buckets wholly before settled_ms
        cut = int(np.searchsorted(event_ms, edge, side="left"))
        buckets = event_ms[:cut] - event_ms[:cut] % self.bucket_ms
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]).tolist() if cut else []
        parts, live, kept = {}, {}, {}
        for lo, hi in pairwise([*starts, cut]):  # one step per bucket, not per row
            bucket = int(buckets[lo])
            rows = {name: columns[name][lo:hi] for name in ("event_ms", "key")}
            part = self._parts.get(bucket)
            mask, whole = (
                (None, False)
                if part is None
                else _live_rows(part.event_ms, part.key, rows["event_ms"], rows["key"])
            )
            if not whole:  # new, or a row entered it after all: written (again)
                part = _Part.of(bucket, {n: columns[n][lo:hi] for n in PART_COLUMNS})
                mask = np.ones(hi - lo, bool)
            kept[bucket], parts[part.name], live[part.name] = part, part.data, mask
        self._parts = kept
        inline = {name: columns[name][cut:] for name in PART_COLUMNS}
        return inline, parts, live


def join_rows(
    inline: Mapping[str, np.ndarray],
    parts: Mapping[str, bytes],
    live: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The window's rows (part columns) that :meth:`SettledRows.split` cut: each part's live
    rows, in the parts' bucket order, then the rows kept inline (so canonical again).

    Raises ``ValueError`` naming a part that ``parts`` lacks or that does not match ``live``.
    """
    pieces = []
    for name in sorted(live, key=lambda n: int(n[len(PART_PREFIX) :].split("/")[0])):
        if name not in parts:
            raise ValueError(f"the rows part {name} is missing")
        columns, mask = _load(name, parts[name]), live[name]
        if len(columns["key"]) != len(mask):
            raise ValueError(
                f"the rows part {name} holds {len(columns['key'])} rows, not {len(mask)}"
            )
        pieces.append({k: v[mask] for k, v in columns.items()})
    pieces.append(dict(inline))
    return {name: np.concatenate([p[name] for p in pieces]) for name in PART_COLUMNS}


def _load(name: str, data: bytes) -> dict[str, np.ndarray]:
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        return {column: npz[column] for column in PART_COLUMNS}
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"the rows part {name} is not readable ({exc})") from exc
