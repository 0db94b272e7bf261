"""Reading commands on one chDB folder (issue 21, item 4): a reader waits briefly for another
short command to release the folder, and otherwise says who holds it and what to use instead.

The holder is a real process holding the real folder through chDB. It runs under the name
``hotspot`` (``exec -a``) so it reads as a short ``hotspot`` command in ``/proc``, the way an
``export`` started a moment earlier would, but holds the folder for exactly as long as the test
needs, where a real export's duration would make the test race.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from jobs.commands.warehouse import READER_WAIT_S, waits_for
from tests.jobs.commands.test_bad_input import assert_refused, hotspot

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize(
    ("command", "wait"),
    [
        ("/srv/.venv/bin/python -m jobs export flags --since 2026-01-01", True),
        ("/srv/.venv/bin/hotspot map --out m.png", True),
        ("hotspot top --once", True),
        ("hotspot top", False),  # refreshes until Ctrl-C
        ("/srv/.venv/bin/python /srv/.venv/bin/hotspot worker --until-drained", False),
        ("python -m jobs demo", False),
        ("python -m pytest -q tests", False),  # not a hotspot command: no idea how long
        ("", False),
    ],
)
def test_a_reader_waits_only_for_commands_that_end_by_themselves(command, wait):
    assert waits_for(command) is wait


def _hold(folder, seconds: float) -> subprocess.Popen:
    """A process named ``hotspot`` that opens ``folder`` with chDB for ``seconds``, or until
    a line arrives on its stdin."""
    code = (
        "import sys, time\n"
        f"sys.path[:0] = {sys.path!r}\n"  # renamed, python no longer finds its venv itself
        "from chdb import session\n"
        f"s = session.Session({str(folder)!r})\n"
        "print('held', flush=True)\n"
        "import select\n"
        f"select.select([sys.stdin], [], [], {seconds})\n"
        "s.close()\n"
    )
    line = f"exec -a hotspot {shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    holder = subprocess.Popen(
        ["bash", "-c", line], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def _env(settings) -> dict[str, str]:
    return {
        "HOTSPOT_DATA_DIR": str(settings.data_dir),
        "HOTSPOT_REGISTRY_PATH": str(settings.registry_path),
    }


def test_a_reader_waits_for_another_reader_to_finish(backfilled_city, tmp_path):
    """The holder lets go once the reader says it waits: the reader then goes on."""
    holder = _hold(backfilled_city.resolved_warehouse_url[len("chdb://") :], 60)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    reader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobs",
            "export",
            "flags",
            "--since",
            "2020-01-01",
            "--until",
            "2030-01-01",
        ],
        env={**env, **_env(backfilled_city)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = reader.stderr.readline()
        holder.stdin.write("release\n")
        holder.stdin.flush()
        out, err = reader.communicate(timeout=120)
    finally:
        holder.wait(timeout=60)
        reader.kill()
    assert "in use by process" in said and f"waiting up to {READER_WAIT_S:.0f} s" in said
    assert reader.returncode == 0, err[-3000:]
    assert out.count('"flag_id"') > 0 and "Traceback" not in err


def test_a_reader_that_waited_in_vain_says_why_and_what_to_use(backfilled_city, tmp_path):
    holder = _hold(backfilled_city.resolved_warehouse_url[len("chdb://") :], READER_WAIT_S + 8)
    try:
        result = hotspot(
            str(tmp_path),
            *("export", "flags", "--since", "2020-01-01", "--until", "2030-01-01"),
            env=_env(backfilled_city),
        )
    finally:
        holder.wait(timeout=60)
    assert_refused(
        result,
        f"waited {READER_WAIT_S:.0f} s",
        f"in use by process {holder.pid}",
        "one process at a time",
        "top --bootstrap",
        "HOTSPOT_WAREHOUSE_URL=clickhouse://",
    )
