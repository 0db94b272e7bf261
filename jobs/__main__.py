"""``python -m jobs`` is the ``hotspot`` command."""

from .cli import main

main()
