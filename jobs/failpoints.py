"""Failpoints: named places in the worker where a crash test can have it kill itself.

The pattern of TiKV's ``fail-rs`` and FoundationDB's simulation: a kill at a random moment
rarely lands in the narrow windows where a bug would hide (a checkpoint half written, outputs
delivered but their offsets not committed, a warehouse insert under way), so a test names one.
The setting ``failpoint = "NAME:N"`` (``HOTSPOT_FAILPOINT``) makes the worker SIGKILL itself the
``N``-th time it passes ``NAME`` (``N`` defaults to 1). Unset, :func:`failpoint` costs a
comparison.

Names: ``checkpoint-torn`` (a checkpoint's chunks are on the broker, its manifest is not),
``checkpoint-retiring`` (its manifest is on the broker, the tombstones for what it retires are
not),
``outputs-delivered`` (a correlate batch's outputs are on the broker; no checkpoint, no commit),
``warehouse-insert`` (the kill comes from another thread a few milliseconds into the alerts
insert that follows).
"""

from __future__ import annotations

import os
import signal
import threading

from pipeline.exceptions import ConfigurationError

__all__ = ["FAILPOINTS", "arm", "failpoint"]

FAILPOINTS = ("checkpoint-torn", "checkpoint-retiring", "outputs-delivered", "warehouse-insert")

_name, _left = "", 0


def arm(spec: str) -> None:
    """Arm the failpoint ``spec`` (``NAME`` or ``NAME:N``; empty disarms)."""
    global _name, _left
    name, _, nth = spec.partition(":")
    if name and (name not in FAILPOINTS or not (nth or "1").isdigit()):
        raise ConfigurationError(
            f"failpoint {spec!r} not understood; use NAME or NAME:N with NAME one of "
            f"{', '.join(FAILPOINTS)}"
        )
    _name, _left = name, int(nth or 1)


def failpoint(name: str, *, after_s: float = 0.0) -> None:
    """Kill this process with SIGKILL if ``name`` is the armed failpoint, on its ``N``-th pass;
    with ``after_s``, from another thread that much later (so the kill lands in what follows)."""
    global _left
    if name != _name:
        return
    _left -= 1
    if _left:
        return
    if after_s:
        threading.Timer(after_s, os.kill, (os.getpid(), signal.SIGKILL)).start()
    else:
        os.kill(os.getpid(), signal.SIGKILL)
