"""Python's cyclic garbage collector, tuned for a worker that streams millions of objects.

With CPython's defaults (a young-generation collection every 700 new container objects), a
worker draining 300k messages spent about 2.3 s of a 10 s run collecting: 9 full collections
took 1.5 s, about 170 ms each, because every full collection walks every live object, and
most live objects are the start-up ones (Faust, Numba, chDB, the admin registry) that never
become garbage. Records and envelopes die young, so collecting them takes time and finds
nothing to free that reference counting does not free anyway.

Two changes took collection time on the same run down to about 0.3 s (benchmarks/README.md,
"The worker's main thread, round 2"): the start-up objects are frozen (moved to a permanent
generation that collections skip), and the young generation holds 50,000 objects before it
is collected.
"""

from __future__ import annotations

import gc

__all__ = ["tune_garbage_collector"]

#: young-generation size, then how many young (middle) collections trigger a middle (full) one
_THRESHOLDS = (50_000, 20, 10)


def tune_garbage_collector() -> None:
    """Freeze what exists now and collect less often; call once start-up is done."""
    gc.collect()  # what is garbage already should not be frozen
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)
