"""Failpoints (jobs/failpoints.py): a misspelt one is refused; the armed one kills on its N-th
pass, in a real child process."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from jobs.failpoints import arm
from pipeline.exceptions import ConfigurationError


@pytest.mark.parametrize("spec", ["checkpoint", "outputs-delivered:x", "nowhere:2"])
def test_a_failpoint_that_does_not_exist_is_refused_with_the_names_there_are(spec):
    with pytest.raises(
        ConfigurationError, match="checkpoint-torn, checkpoint-retiring, outputs-delivered"
    ):
        arm(spec)
    arm("")


def test_the_armed_failpoint_kills_on_its_nth_pass_and_no_other():
    script = (
        "from jobs.failpoints import arm, failpoint\n"
        "arm('outputs-delivered:3')\n"
        "for i in range(5):\n"
        "    failpoint('checkpoint-torn')\n"
        "    failpoint('outputs-delivered')\n"
        "    print(i, flush=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL
    assert run.stdout.split() == ["0", "1"]
