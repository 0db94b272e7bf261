"""Whether a consumer group has drained its topics: the one drain check of the project.

Used by ``hotspot worker --until-drained`` (the demo, the tests' workers) and the benchmarks'
worker groups. A group has drained ``topics`` once it has committed every partition to its
end **twice in a row with the same ends**: downstream topics still grow while an upstream
stage works, so one look at the ends can come between a stage's commit and the records it
publishes next.

The ends are the high watermarks of fetch responses (:func:`.reading.ends`), not ListOffsets
answers, which Tansu has been seen giving below records it had already served. They are asked
again only once the group has committed those it was last given: until then the group has not
drained whatever the ends are, and each ask costs the broker a fetch of every partition
(2026-12-07: a drain check every 0.25 s from the committed offsets took more of Tansu's CPU
than the worker's own fetches, ``benchmarks/broker_requests.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from .admin import committed_offsets
from .clients import Brokers
from .reading import ends

__all__ = ["GroupDrain"]

Offsets = Mapping[tuple[str, int], int]


class GroupDrain:
    """Checks, one call at a time, whether consumer group ``group`` has drained ``topics``."""

    def __init__(self, bootstrap: Brokers | str, group: str, topics: list[str]) -> None:
        self.bootstrap, self.group, self.topics = bootstrap, group, topics
        self._committed: dict[tuple[str, int], int] = {}  # as the last check read them
        self._known: dict[tuple[str, int], int] = {}  # the ends last asked
        self._previous: dict[tuple[str, int], int] | None = None  # caught up with last check

    async def check(self, also: Callable[[Offsets], bool] | None = None) -> bool:
        """Read the group's committed offsets; True once the group has caught up with the
        same ends twice in a row. ``also``: a further condition on the committed offsets,
        e.g. that every record a benchmark sent is committed."""
        self._committed = await asyncio.to_thread(committed_offsets, self.bootstrap, self.group)
        if self._caught_up():  # else the group has not drained, whatever the ends are now
            self._known = await ends(
                self.bootstrap, self.topics, self._committed, known=self._known
            )
        caught_up = self._caught_up() and (also is None or also(self._committed))
        drained = caught_up and self._known == self._previous
        self._previous = self._known if caught_up else None
        return drained

    def _caught_up(self) -> bool:
        return all(self._committed.get(tp, 0) >= end for tp, end in self._known.items())
