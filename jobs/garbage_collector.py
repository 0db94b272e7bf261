"""Python's cyclic garbage collector, tuned for a worker that streams millions of objects.

With CPython's defaults (a young-generation collection every 700 new container objects), a
worker draining 300k messages spent about 2.3 s of a 10 s run collecting: 9 full collections
took 1.5 s, about 170 ms each, because every full collection walks every live object, and
most live objects are the start-up ones (Faust, Numba, chDB, the admin registry) that never
become garbage.

Here the start-up objects are frozen (moved to a permanent generation that collections skip)
and the young generation holds 10,000 objects: about 1.1 s of collections on the same run, and
no full collection in it. A young generation of 50,000 took 0.3 s but let cyclic garbage live
long enough to cost memory: with small polls a 923k-message backlog peaked at 1,558 MiB
against 999-1,036 MiB (benchmarks/README.md, "The worker's main thread, round 2").
"""

from __future__ import annotations

import gc

__all__ = ["tune_garbage_collector"]

#: young-generation size, then how many young (middle) collections trigger a middle (full) one
_THRESHOLDS = (10_000, 10, 10)


def tune_garbage_collector() -> None:
    """Freeze what exists now and collect less often; call once start-up is done."""
    gc.collect()  # what is garbage already should not be frozen
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)
