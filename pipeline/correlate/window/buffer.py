"""The engine's retained alerts: growable NumPy columns in canonical order (event time, then
key), with amortised append and compaction.

Kafka batches are small and frequent, so re-concatenating every column per batch would copy the
whole window each time. Columns here have spare capacity (doubling when full), and appends
rewrite only the new rows and the few retained rows they interleave with (alerts arrive nearly
in event-time order: at most the allowed lateness out of it). Keeping the rows canonical means
a slide boundary reads time ranges as contiguous slices instead of sorting the whole window.
Rows are removed by :meth:`AlertBuffer.compact`, which the engine calls once per slide, never
per event.
"""

from __future__ import annotations

from bisect import bisect_right

import numba
import numpy as np

from pipeline.alerts import AlertBatch

from .key_set import KeySet

__all__ = ["AlertBuffer", "COLUMNS", "DERIVED", "alert_keys", "quantise_severity", "utf8_ids"]

#: Column name -> dtype. ``key`` is a 64-bit hash of ``alert_id`` (dedup and tie-breaking in
#: kernels, which cannot take strings); ``pending`` marks alerts not yet part of an emitted
#: incident. ``alert_id`` keeps the text as UTF-8 bytes (a quarter of NumPy's UTF-32 ``U``
#: for ASCII ids; its width grows as needed).
COLUMNS: dict[str, np.dtype] = {
    "key": np.dtype(np.uint64),
    "alert_id": np.dtype("S1"),
    "source": np.dtype(np.int8),
    "event_ms": np.dtype(np.int64),
    "x": np.dtype(np.float64),
    "y": np.dtype(np.float64),
    "category": np.dtype(np.int16),
    "severity": np.dtype(np.float32),
    "grid": np.dtype(np.int32),
    "pending": np.dtype(np.bool_),
}

#: Searches of the event times between two changes of the rows after which ``through`` copies
#: them into a list and bisects it: ``bisect`` on a list costs a fraction of a scalar
#: ``ndarray.searchsorted`` call, but the copy is worth it only where many searches follow (a
#: quiet city's boundaries between two batches), not after every append of a dense stream.
_BISECT_AFTER = 64

#: Derived columns, not part of a snapshot (a restored buffer starts them at -1): ``root`` is
#: the alert's parent in the incident union-find forest (:mod:`pipeline.correlate.
#: incident_forest`; -1: not linked yet, or consumed), a buffer row kept pointing at the same
#: alert when rows move; ``repeat`` is 1 or 0 once the alert's
#: burst status is decided, -1 before (see :mod:`pipeline.correlate.window.bursts`). They let a
#: boundary redo only the new alerts' share of linking and burst collapsing.
DERIVED: dict[str, np.dtype] = {"root": np.dtype(np.int64), "repeat": np.dtype(np.int8)}


@numba.njit(cache=True, nogil=True)
def _fnv1a(codes, out):
    # FNV-1a over the UTF-32 code units of each id; trailing NULs are NumPy padding, not text.
    for i in range(codes.shape[0]):
        end = codes.shape[1]
        while end > 0 and codes[i, end - 1] == 0:
            end -= 1
        h = np.uint64(14695981039346656037)
        for k in range(end):
            h = (h ^ np.uint64(codes[i, k])) * np.uint64(1099511628211)
        out[i] = h


@numba.njit(cache=True, nogil=True)
def _merge_order(t_a, k_a, t_b, k_b):
    """Positions in ``concat(a, b)`` of the merge of two runs sorted by ``(t, k)``."""
    na, nb = t_a.shape[0], t_b.shape[0]
    out = np.empty(na + nb, np.int64)
    i = j = 0
    for o in range(na + nb):
        if j >= nb or (i < na and (t_a[i] < t_b[j] or (t_a[i] == t_b[j] and k_a[i] < k_b[j]))):
            out[o] = i
            i += 1
        else:
            out[o] = na + j
            j += 1
    return out


@numba.njit(cache=True, nogil=True)
def _merge_into(column, lo, size, values, order, merge):
    """``column[lo:lo + len(merge)]`` = the merge (positions ``merge`` into the retained
    rows ``column[lo:size]`` followed by ``values[order]``)."""
    tail = column[lo:size].copy()
    n_tail = tail.shape[0]
    for o in range(merge.shape[0]):
        m = merge[o]
        column[lo + o] = tail[m] if m < n_tail else values[order[m - n_tail]]


def _codes(text: np.ndarray) -> np.ndarray:
    width = max(text.dtype.itemsize // 4, 1)
    if not len(text):
        return np.zeros((0, 1), np.uint32)
    return text.view(np.uint32).reshape(len(text), width)


def alert_keys(alert_id: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hashes of alert ids (``str`` objects, a NumPy ``U`` array, or their
    UTF-8 bytes as :func:`utf8_ids` gives them), over the ids' code points.

    >>> k = alert_keys(np.array(["a", "camera:1", "camera:1"], dtype=object))
    >>> hex(k[0]), bool(k[1] == k[2]), bool((alert_keys(utf8_ids(["a", "é"])) ==
    ...                                       alert_keys(np.array(["a", "é"]))).all())
    ('0xaf63dc4c8601ec8c', True, True)
    """
    text = np.asarray(alert_id)
    out = np.empty(len(text), np.uint64)
    if text.dtype.kind == "S" and len(text):
        codes = text.view(np.uint8).reshape(len(text), text.dtype.itemsize)
        if codes.max() < 128:  # ASCII: the bytes are the code points
            _fnv1a(codes, out)
            return out
        text = np.strings.decode(text, "utf-8")
    _fnv1a(_codes(text.astype(np.str_)), out)
    return out


def utf8_ids(alert_id: np.ndarray) -> np.ndarray:
    """Alert ids as a NumPy ``S`` array of their UTF-8 bytes (``.decode()`` gives them back).

    >>> utf8_ids(np.array(["a:1", "b:é"], dtype=object)).tolist()
    [b'a:1', b'b:\\xc3\\xa9']
    """
    text = np.asarray(alert_id)
    if not len(text):
        return np.empty(0, "S1")
    if text.dtype == object:
        try:
            return text.astype(np.bytes_)  # ASCII, the usual case: one cast, no per-id call
        except UnicodeEncodeError:
            pass
    text = text.astype(np.str_)
    if _codes(text).max() < 128:
        return text.astype(np.bytes_)
    return np.strings.encode(text, "utf-8")


#: Severities are kept as multiples of this (see :func:`quantise_severity`).
SEVERITY_STEP = 2.0**-20


def quantise_severity(severity: np.ndarray) -> np.ndarray:
    """Severities in ``[0, 1]`` rounded to multiples of 2**-20, as float32; a positive one never
    rounds to 0 (it would stop counting), it becomes 2**-20.

    Why: scoring sums severities over disks, and the engine keeps those sums up to date by
    adding events as they enter the window and subtracting them as they leave
    (:mod:`pipeline.correlate.scan.scale_counts`). Float sums of arbitrary values depend on the
    order of the terms, so such sums would drift from a fresh sum of the same events (and a
    restored engine, which sums afresh, from the live one). Multiples of 2**-20 up to 1 have at
    most 21 significant bits, so float32 holds them exactly, and every float64 sum of them
    below 2**33 (far beyond any window) is exact: any order, adding or removing, gives the same
    bits. The rounding moves a severity by at most 2**-21, far below its meaning.

    >>> quantise_severity(np.array([0.0, 1e-9, 0.3, 1.0], np.float32)).tolist()
    [0.0, 9.5367431640625e-07, 0.3000001907348633, 1.0]
    """
    sev = np.asarray(severity, np.float64)
    q = np.round(sev / SEVERITY_STEP) * SEVERITY_STEP
    return np.where((sev > 0) & (q == 0), SEVERITY_STEP, q).astype(np.float32)


class AlertBuffer:
    """Columns of retained alerts in canonical order; ``col(name)`` is a view of the live rows,
    ``keys`` the set of their keys."""

    def __init__(self, capacity: int = 1024) -> None:
        self._size = 0
        self._cols = {
            name: np.empty(capacity, dtype) for name, dtype in (COLUMNS | DERIVED).items()
        }
        self.keys = KeySet()

    @property
    def _size(self) -> int:
        return self._rows

    @_size.setter
    def _size(self, n: int) -> None:
        # Every change of the row count (append, compact, restore; a grown column is only
        # swapped in by append) drops the views col() hands out, which a boundary asks for
        # dozens of times between two changes.
        self._rows = n
        self._views: dict[str, np.ndarray] = {}
        self._all_views: dict[str, np.ndarray] | None = None
        self._through: dict[int, int] = {}
        self._times: list[int] | None = None  # event times as a list, once worth bisecting
        self._searches = 0

    def __len__(self) -> int:
        return self._rows

    def col(self, name: str) -> np.ndarray:
        view = self._views.get(name)
        if view is None:
            view = self._views[name] = self._cols[name][: self._rows]
        return view

    def views(self) -> dict[str, np.ndarray]:
        """Every column's view of the live rows, by name: one dict until the rows change, for
        the steps of a boundary that read several columns (read only: do not add keys)."""
        views = self._all_views
        if views is None:
            views = self._all_views = {name: self.col(name) for name in self._cols}
        return views

    def through(self, event_ms: int) -> int:
        """Number of leading rows with event time ``<= event_ms`` (rows are canonical).

        Memoised until the rows change: a boundary asks for the same few times (its own, the
        window's start, the last one's) a dozen times, and a search costs more than a lookup.
        After :data:`_BISECT_AFTER` searches between two changes, the searches bisect a list.
        """
        n = self._through.get(event_ms)
        if n is None:
            if len(self._through) >= 4096:  # a long run of boundaries between two changes
                self._through.clear()
            n = self._through[event_ms] = self._search(event_ms)
        return n

    def _search(self, event_ms: int) -> int:
        times = self._times
        if times is None:
            self._searches += 1
            if self._searches <= _BISECT_AFTER:
                return int(self.col("event_ms").searchsorted(event_ms, side="right"))
            times = self._times = self.col("event_ms").tolist()
        return bisect_right(times, event_ms)

    def append(
        self,
        batch: AlertBatch,
        key: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        ids: np.ndarray | None = None,
    ) -> None:
        """Add the rows of ``batch`` (all pending) with their keys and projected coordinates,
        merged into canonical order. Keys must be new (the engine drops duplicates first).
        ``ids``: the batch's ids as :func:`utf8_ids` gives them, when the caller has them."""
        n = len(batch)
        if not n:
            return
        ids = utf8_ids(batch.alert_id) if ids is None else ids
        self._reserve(self._size + n, ids.dtype)
        order = np.lexsort((key, batch.event_ms))
        new = {
            "key": key,
            "alert_id": ids,
            "source": batch.source,
            "event_ms": batch.event_ms,
            "x": x,
            "y": y,
            "category": batch.category,
            "severity": quantise_severity(batch.severity),
            "grid": batch.grid,
            "pending": np.ones(n, bool),
            "root": np.full(n, -1, np.int64),
            "repeat": np.full(n, -1, np.int8),
        }
        # Retained rows at or after the batch's earliest event time interleave with it.
        lo = int(np.searchsorted(self.col("event_ms"), batch.event_ms[order[0]], side="left"))
        end = self._size + n
        if lo == self._size:  # the usual case: the batch goes after every retained row
            for name, values in new.items():
                self._cols[name][lo:end] = np.asarray(values)[order]
        else:
            merge = _merge_order(
                self.col("event_ms")[lo:],
                self.col("key")[lo:],
                np.ascontiguousarray(batch.event_ms[order]),
                np.ascontiguousarray(key[order]),
            )
            for name, values in new.items():
                arr, values = self._cols[name], np.asarray(values, self._cols[name].dtype)
                if arr.dtype.kind == "S":  # text: NumPy's gathers (kernels take no bytes)
                    arr[lo:end] = np.concatenate([arr[lo : self._size], values[order]])[merge]
                else:
                    _merge_into(arr, lo, self._size, np.ascontiguousarray(values), order, merge)
            # roots pointing into the merged rows follow them
            moved = np.empty(self._size - lo, np.int64)
            old = merge < len(moved)
            moved[merge[old]] = lo + np.flatnonzero(old)
            root = self._cols["root"][lo:end]
            shift = root >= lo
            root[shift] = moved[root[shift] - lo]
        self._size = end
        self.keys.add(key)

    def compact(self, keep: np.ndarray) -> None:
        """Keep only rows where ``keep`` (a mask over the live rows) is true, in order."""
        drop = np.flatnonzero(~keep)
        if not len(drop):
            return
        first = int(drop[0])  # rows before it stay where they are
        n = first + int(keep[first:].sum())
        for arr in self._cols.values():
            arr[first:n] = arr[first : self._size][keep[first:]]
        root = self._cols["root"][:n]
        shift = root >= first  # a kept row's root is kept too (incidents are consumed whole)
        root[shift] = (np.cumsum(keep) - 1)[root[shift]]
        self._size = n
        self.keys.rebuild(self.col("key"))

    @classmethod
    def from_state(cls, cols: dict[str, np.ndarray]) -> AlertBuffer:
        n = len(cols["key"])
        buf = cls(max(1024, n))
        buf._reserve(n, cols["alert_id"].dtype)
        order = np.lexsort((cols["key"], cols["event_ms"]))  # canonical already; cheap insurance
        for name in COLUMNS:
            buf._cols[name][:n] = cols[name][order]
        # Idempotent; a snapshot written before severities were quantised gets them quantised.
        buf._cols["severity"][:n] = quantise_severity(buf._cols["severity"][:n])
        for name in DERIVED:
            buf._cols[name][:n] = -1
        buf._size = n
        buf.keys.rebuild(buf.col("key"))
        return buf

    def _reserve(self, size: int, id_dtype: np.dtype) -> None:
        cap = new_cap = len(self._cols["key"])
        while new_cap < size:
            new_cap *= 2
        for name, arr in self._cols.items():
            dtype = (
                max(arr.dtype, id_dtype, key=lambda d: d.itemsize)
                if name == "alert_id"
                else arr.dtype
            )
            if new_cap != cap or dtype != arr.dtype:  # a wider id alone regrows only its column
                grown = np.empty(new_cap, dtype)
                grown[: self._size] = arr[: self._size]
                self._cols[name] = grown
        self._views, self._all_views = {}, None  # views of the columns swapped above are stale
