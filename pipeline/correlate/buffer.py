"""The engine's retained alerts: growable NumPy columns with amortised append and compaction.

Kafka batches are small and frequent, so re-concatenating every column per batch would copy the
whole window each time. Columns here have spare capacity (doubling when full), appends copy only
the new rows, and rows are removed by :meth:`AlertBuffer.compact`, which the window calls once
per slide, never per event.
"""

from __future__ import annotations

import numba
import numpy as np

from pipeline.alerts import AlertBatch

__all__ = ["AlertBuffer", "COLUMNS", "alert_keys"]

#: Column name -> dtype. ``key`` is a 64-bit hash of ``alert_id`` (dedup and tie-breaking in
#: kernels, which cannot take strings); ``pending`` marks alerts not yet part of an emitted
#: incident. ``alert_id`` keeps the text (its width grows as needed).
COLUMNS: dict[str, np.dtype] = {
    "key": np.dtype(np.uint64),
    "alert_id": np.dtype("U1"),
    "source": np.dtype(np.int8),
    "event_ms": np.dtype(np.int64),
    "x": np.dtype(np.float64),
    "y": np.dtype(np.float64),
    "lat": np.dtype(np.float64),
    "lon": np.dtype(np.float64),
    "category": np.dtype(np.int16),
    "severity": np.dtype(np.float32),
    "grid": np.dtype(np.int32),
    "pending": np.dtype(np.bool_),
}


@numba.njit(cache=True)
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


def alert_keys(alert_id: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hashes of alert ids (``str`` objects or a NumPy ``U`` array).

    >>> k = alert_keys(np.array(["a", "camera:1", "camera:1"], dtype=object))
    >>> hex(k[0]), bool(k[1] == k[2])
    ('0xaf63dc4c8601ec8c', True)
    """
    text = np.asarray(alert_id).astype(np.str_)
    width = max(text.dtype.itemsize // 4, 1)
    codes = (
        text.view(np.uint32).reshape(len(text), width) if len(text) else np.zeros((0, 1), np.uint32)
    )
    out = np.empty(len(text), np.uint64)
    _fnv1a(codes, out)
    return out


class AlertBuffer:
    """Columns of retained alerts; ``col(name)`` is a view of the live rows."""

    def __init__(self, capacity: int = 1024) -> None:
        self._size = 0
        self._cols = {name: np.empty(capacity, dtype) for name, dtype in COLUMNS.items()}

    def __len__(self) -> int:
        return self._size

    def col(self, name: str) -> np.ndarray:
        return self._cols[name][: self._size]

    def append(self, batch: AlertBatch, key: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Add the rows of ``batch`` (all pending) with their keys and projected coordinates."""
        n = len(batch)
        self._reserve(self._size + n, np.asarray(batch.alert_id).astype(np.str_).dtype)
        new = {
            "key": key,
            "alert_id": batch.alert_id,
            "source": batch.source,
            "event_ms": batch.event_ms,
            "x": x,
            "y": y,
            "lat": batch.lat,
            "lon": batch.lon,
            "category": batch.category,
            "severity": batch.severity,
            "grid": batch.grid,
            "pending": True,
        }
        for name, values in new.items():
            self._cols[name][self._size : self._size + n] = values
        self._size += n

    def compact(self, keep: np.ndarray) -> None:
        """Keep only rows where ``keep`` (a mask over the live rows) is true, in order."""
        n = int(keep.sum())
        for arr in self._cols.values():
            arr[:n] = arr[: self._size][keep]
        self._size = n

    def state(self) -> dict[str, np.ndarray]:
        return {name: self.col(name).copy() for name in COLUMNS}

    @classmethod
    def from_state(cls, cols: dict[str, np.ndarray]) -> AlertBuffer:
        n = len(cols["key"])
        buf = cls(max(1024, n))
        buf._reserve(n, cols["alert_id"].dtype)
        for name in COLUMNS:
            buf._cols[name][:n] = cols[name]
        buf._size = n
        return buf

    def _reserve(self, size: int, id_dtype: np.dtype) -> None:
        cap = len(self._cols["key"])
        wider = id_dtype.itemsize > self._cols["alert_id"].dtype.itemsize
        if size <= cap and not wider:
            return
        new_cap = max(cap, 1024)
        while new_cap < size:
            new_cap *= 2
        for name, arr in self._cols.items():
            dtype = (
                max(arr.dtype, id_dtype, key=lambda d: d.itemsize)
                if name == "alert_id"
                else arr.dtype
            )
            grown = np.empty(new_cap, dtype)
            grown[: self._size] = arr[: self._size]
            self._cols[name] = grown
