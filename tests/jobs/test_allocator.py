"""tune_allocator: glibc takes the malloc settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_glibc_takes_the_settings():
    """Run in a child, so this test process keeps its own allocator settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    probe = "from jobs.allocator import tune_allocator; print(tune_allocator())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "True"
