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
@pytest.mark.parametrize("batch", [False, True])
def test_glibc_takes_the_settings(batch):
    code = f"from jobs.allocator import tune_allocator; print(tune_allocator(batch={batch}))"
    assert _probe(code) == "True"


_POOL = (
    "import pyarrow as pa; from jobs.allocator import tune_allocator; tune_allocator(); "
    "pa.array(range(1000)); print(pa.default_memory_pool().backend_name)"
)


def test_arrow_allocates_from_the_system_allocator():
    assert _probe(_POOL) == "system"


def test_a_pool_chosen_in_the_environment_wins():
    assert _probe(_POOL, ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"


_FAULTS = (
    "import resource, numpy as np; from jobs.allocator import tune_allocator; "
    "tune_allocator(batch={batch}); np.ones(1 << 19); "  # 4 MiB, once: the heap grows to hold it
    "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "for _ in range(50): np.ones(1 << 19)\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_a_batch_job_reuses_its_large_temporaries_instead_of_faulting_them_in_again():
    # 50 arrays of 4 MiB, each freed before the next: with the worker's threshold each is a
    # fresh mapping whose 1,024 pages fault in again, with the batch threshold the same heap
    # memory every time. NumPy asks for huge pages for arrays this large (madvise), and where
    # the kernel has them free a mapping faults a few times instead of 1,024 (150 faults for
    # the 50 in one CI run, 25,700 here against 51,250 without): the probe asks for none.
    no_huge_pages = {"NUMPY_MADVISE_HUGEPAGE": "0"}
    worker = int(_probe(_FAULTS.format(batch=False), **no_huge_pages))
    batch = int(_probe(_FAULTS.format(batch=True), **no_huge_pages))
    assert worker >= 50 * 100, worker
    assert batch < worker / 20, (batch, worker)
