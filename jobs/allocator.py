"""Memory allocator settings for long-running, NumPy-heavy processes (the worker, a backfill).

Two allocators hold most of the process's data, and both kept memory they had freed:

* glibc's ``malloc`` (Python, NumPy). With the defaults, a worker draining a backlog of about
  0.9 million alerts held 250-360 MiB of freed memory in malloc's heap that it never gave back:
  every thread that allocates gets its own arena, up to 8 per core, each keeping its own free
  memory (the correlators run in threads), and the threshold above which a block gets its own
  ``mmap`` grows with every large block freed, up to 32 MiB, so window-sized NumPy temporaries
  end up in the heap and fragment it. Two arenas, and a fixed 256 KiB threshold (large arrays
  are mapped, and unmapped when freed), took that down to 20-100 MiB (benchmarks/README.md,
  "Worker memory").
* Arrow's default pool (mimalloc), which keeps freed pages for reuse: every poll's envelope
  tables, IPC records and warehouse columns pass through it. Arrow's buffers go to the system
  allocator instead, so they follow the settings above: the worker's peak anonymous memory
  with about a million alerts in the window went from 846-962 MiB (median 887, 6 runs) to
  782-897 MiB (median 813, 11 runs) (benchmarks/README.md, "Arrow's memory pool").

A batch job (``hotspot backfill``, ``tune_allocator(batch=True)``) maps only blocks of 32 MiB
and more, and keeps up to 64 MiB of free memory at the top of its heap. Its chunks of 100,000
records make NumPy and Arrow temporaries of about 0.1-10 MiB by the thousand; under the
worker's 256 KiB each is mapped, faulted in page by page (the kernel zeroes every page) and
unmapped again. The dense benchmark hour (126,372 records, one process, shared cores, 4 runs
each way, alternating) took 137,000-147,000 minor page faults and 0.47-0.71 s of system time
with the worker's settings, 28,000-39,000 and 0.15-0.25 s with the batch ones, for a peak
resident memory of 866-876 MiB against 802-814 MiB (benchmarks/README.md, "Where a dense
backfill's CPU goes"). The worker keeps its settings, which its memory needs.

A variable already set in the environment (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``ARROW_DEFAULT_MEMORY_POOL``) wins. Elsewhere than glibc the
glibc part does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

import pyarrow as pa

__all__ = [
    "BATCH_MMAP_THRESHOLD",
    "BATCH_TRIM_THRESHOLD",
    "WORKER_MMAP_THRESHOLD",
    "tune_allocator",
]

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

#: blocks from this size up get their own ``mmap``: the live worker (see module)
WORKER_MMAP_THRESHOLD = 256 << 10
#: the same for a batch job that allocates and frees large temporaries per chunk (see module)
BATCH_MMAP_THRESHOLD = 32 << 20
#: free memory at the top of a batch job's heap kept for its next chunk rather than returned
#: (glibc's own rule when it raises the mapping threshold: twice that threshold); the worker
#: keeps glibc's 128 KiB
BATCH_TRIM_THRESHOLD = 64 << 20


def tune_allocator(*, batch: bool = False) -> bool:
    """Apply the settings above to this process, the worker's or with ``batch`` a batch
    job's (:data:`BATCH_MMAP_THRESHOLD`, :data:`BATCH_TRIM_THRESHOLD`); True when glibc took
    them."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    settings = [
        ("MALLOC_ARENA_MAX", _M_ARENA_MAX, 2),
        ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD),
    ]
    if batch:
        settings[1] = ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, BATCH_MMAP_THRESHOLD)
        settings.append(("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, BATCH_TRIM_THRESHOLD))
    return _tune_glibc(settings)


def _tune_glibc(settings: list[tuple[str, int, int]]) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    ok = True
    for variable, param, value in settings:
        if variable not in os.environ:
            ok = bool(mallopt(ctypes.c_int(param), ctypes.c_int(value))) and ok
    if not ok:
        log.warning("glibc refused a malloc setting; memory use may be higher than measured")
    return ok
