"""Stream exposure added one slide at a time, also for slides the engine skips.

The engine adds a slide's hours to a learning baseline at every boundary it closes. Boundaries
where nothing can change are skipped (:mod:`pipeline.correlate.engine`), and the next closed
boundary then accounts for several slides. Adding their hours as one product would round
differently from adding them one by one (``1/60`` h is not exact in binary), so the learned
rates, and the scores, would depend on which boundaries were visited: on how the input was
batched. :func:`add_repeated` adds them one by one, in a kernel, so a gap of months costs
microseconds and gives the same float as visiting every boundary.
"""

from __future__ import annotations

import numba

__all__ = ["add_repeated"]


@numba.njit(cache=True, nogil=True)
def _add_repeated(total: float, step: float, times: int) -> float:
    for _ in range(times):
        total += step
    return total


def add_repeated(total: float, step: float, times: int) -> float:
    """``total + step + step + ...`` (``times`` additions, in order), as float64.

    >>> add_repeated(0.0, 0.1, 3) == 0.1 + 0.1 + 0.1 != 0.3
    True
    """
    if times < 0:
        raise ValueError(f"times must be >= 0, got {times}")
    if times == 1:  # the common case: no kernel call
        return float(total) + float(step)
    return float(_add_repeated(float(total), float(step), int(times)))
