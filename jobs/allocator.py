"""glibc malloc settings for long-running, NumPy-heavy processes (the worker, a backfill).

With the defaults, a worker draining a backlog of about 0.9 million alerts held 250-360 MiB of
freed memory in malloc's heap that it never gave back. Two glibc behaviours cause it:

* every thread that allocates gets its own arena, up to 8 per core, and each keeps its own
  free memory (the correlators run in threads);
* the threshold above which a block gets its own ``mmap`` grows with every large block freed,
  up to 32 MiB, so window-sized NumPy temporaries end up in the heap and fragment it.

Two arenas, and a fixed 256 KiB threshold (large arrays are mapped, and unmapped when freed)
took the heap's free memory down to 20-100 MiB on the same run (benchmarks/README.md,
"Worker memory"). A variable already set in the environment (``MALLOC_ARENA_MAX``,
``MALLOC_MMAP_THRESHOLD_``) wins. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

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
