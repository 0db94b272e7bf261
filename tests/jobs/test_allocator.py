"""tune_allocator: glibc takes the malloc settings, and Arrow allocates through them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_OURS = ("MALLOC_", "ARROW_DEFAULT_MEMORY_POOL")


def _probe(code: str, **env: str) -> str:
    """Run ``code`` in a child, so this test process keeps its own allocator settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_glibc_takes_the_settings():
    assert _probe("from jobs.allocator import tune_allocator; print(tune_allocator())") == "True"


_POOL = (
    "import pyarrow as pa; from jobs.allocator import tune_allocator; tune_allocator(); "
    "pa.array(range(1000)); print(pa.default_memory_pool().backend_name)"
)


def test_arrow_allocates_from_the_system_allocator():
    assert _probe(_POOL) == "system"


def test_a_pool_chosen_in_the_environment_wins():
    assert _probe(_POOL, ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"
