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

A variable already set in the environment (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``,
``ARROW_DEFAULT_MEMORY_POOL``) wins. Elsewhere than glibc the glibc part does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

import pyarrow as pa

__all__ = ["tune_allocator"]

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_SETTINGS = (
    ("MALLOC_ARENA_MAX", _M_ARENA_MAX, 2),
    ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, 256 << 10),
)


def tune_allocator() -> bool:
    """Apply the settings above to this process; True when glibc took them."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    return _tune_glibc()


def _tune_glibc() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    ok = True
    for variable, param, value in _SETTINGS:
        if variable not in os.environ:
            ok = bool(mallopt(ctypes.c_int(param), ctypes.c_int(value))) and ok
    if not ok:
        log.warning("glibc refused a malloc setting; memory use may be higher than measured")
    return ok
