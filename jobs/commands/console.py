"""Where tables are printed: a console that does not cut them when the output is piped.

Rich sizes a console to the terminal, and to 80 columns when standard output is not one (a
pipe, a file): ``hotspot top --once | less`` then showed its columns cut to a few letters
(issue 21). Piped, and unless ``COLUMNS`` says otherwise, tables get the width they need.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["PIPED_WIDTH", "stdout_console"]

#: columns a piped console offers: wider than any table here, which takes only what it needs
PIPED_WIDTH = 1000


def stdout_console() -> Console:
    """A console on standard output: the terminal's width, or :data:`PIPED_WIDTH` piped."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=PIPED_WIDTH)
