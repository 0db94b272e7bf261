"""Every command and command group of :mod:`jobs.commands` is on the ``hotspot`` app, and
nothing else is."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from jobs.commands import COMMANDS, GROUPS


@pytest.mark.parametrize("name", [*COMMANDS, *GROUPS])
def test_each_registered_name_answers_help(name):
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"}, prog_name="hotspot")
    assert result.exit_code == 0, result.output
    assert f"Usage: hotspot {name} " in result.output


def test_the_app_has_exactly_the_registered_commands_and_groups():
    commands = {c.name for c in app.registered_commands}
    groups = {g.name for g in app.registered_groups}
    assert commands == set(COMMANDS) and groups == set(GROUPS)
