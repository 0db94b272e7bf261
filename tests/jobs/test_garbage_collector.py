"""tune_garbage_collector: start-up objects frozen, young generation collected less often."""

from __future__ import annotations

import subprocess
import sys


def test_startup_objects_are_frozen_and_collections_are_rarer():
    """Run in a child, so this test process keeps the default collector."""
    probe = (
        "import gc; keep = [[i] for i in range(1000)]; "
        "from jobs.garbage_collector import tune_garbage_collector; tune_garbage_collector(); "
        "print(gc.get_freeze_count(), *gc.get_threshold())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    frozen, young, middle, full = map(int, out.stdout.split())
    assert frozen > 1000  # at least the lists made before the call
    assert (young, middle, full) == (10_000, 10, 10)
