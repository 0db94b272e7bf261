"""Where a feed partition's progress stood at its committed offset, read back from the marks.

A normaliser that gets a feed partition (at start, after a crash, in a rebalance) resumes at
its committed offset, and the alerts it normalises next must carry the progress that offset
stands for, or they are judged late differently than an uninterrupted run judged them
(:mod:`jobs.watermarks`). Every mark says the progress of its feed partition up to an offset
(:class:`pipeline.marks.WatermarkMark`), and every mark goes to every partition of
``alerts.normalized``, so one partition's tail holds them all: the progress at offset ``c`` is
that of the newest mark of the origin whose offset is at most ``c`` (progress only grows along
a feed partition, so it is also the largest). Marks with a larger offset come from a batch that
was published but not committed before a crash; they speak for records that are normalised
again, and are skipped.

The tail is read backwards in growing steps, so a restore reads about one step of records when
the previous holder committed recently, whatever the topic's length.
"""

from __future__ import annotations

import logging

from aiokafka import TopicPartition

from pipeline.kafka import read_partitions
from pipeline.kafka.clients import Brokers, brokers
from pipeline.marks import MARK_KEY, split_marks

__all__ = ["progress_at"]

log = logging.getLogger(__name__)

#: records read back at first; each further step reads four times as far
FIRST_STEP = 4096


async def progress_at(
    bootstrap: Brokers | str,
    topic: str,
    committed: dict[int, int],
    origins: int,
    *,
    timeout_s: float = 60.0,
) -> dict[int, int]:
    """For each origin in ``committed`` (origin → its feed partition's committed offset), the
    progress its marks on ``topic`` (``alerts.normalized``) declared for the records before
    that offset; origins with no such mark are left out (nothing before it was an alert, or
    the marks are gone with the topic's retention)."""
    if not committed:
        return {}
    end = await _end_offset(bootstrap, topic, timeout_s)
    found: dict[int, int] = {}
    step, start = FIRST_STEP, end
    while start > 0 and len(found) < len(committed):
        start = max(0, start - step)
        step *= 4
        records = (await read_partitions(bootstrap, topic, {0: start}, timeout_s=timeout_s))[0]
        keyed = [r for r in records if r.key == MARK_KEY]  # a compare a record
        _, _, marks, _ = split_marks([r.key for r in keyed], [r.value for r in keyed], origins)
        for o, t, f in zip(
            marks.origin.tolist(), marks.progress_ms.tolist(), marks.offsets().tolist(), strict=True
        ):  # loop per mark: a few per normalise batch
            if o in committed and 0 <= f <= committed[o]:
                found[o] = max(found.get(o, t), t)
    return found


async def _end_offset(bootstrap: Brokers | str, topic: str, timeout_s: float) -> int:
    """Partition 0's end as ListOffsets says: only where reading back starts (the read itself
    goes to the end its fetches report)."""
    consumer = brokers(bootstrap).consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()
