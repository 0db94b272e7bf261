"""The normalise stage's progress per feed partition: what each alert carries, the marks of a
batch, and the wall-clock marks of quiet feed partitions (jobs/watermarks.py)."""

from __future__ import annotations

import time

import numpy as np

from jobs.watermarks import FeedProgress
from pipeline.marks import NO_PROGRESS
from pipeline.settings import Settings


def progress(idle_s: float = 60.0) -> FeedProgress:
    return FeedProgress(Settings(partitions=2, idle_mark_s=idle_s))


def test_origins_number_feed_partitions_densely():
    p = progress()
    assert p.origins("alerts.alarm_phone", np.array([0, 1])).tolist() == [0, 1]
    assert p.origins("alerts.grid_report", np.array([1])).tolist() == [7]


def test_each_alert_carries_its_origins_progress_before_it_across_batches():
    p = progress()
    came_from, marks = p.after_batch(np.array([3, 5, 3, 3]), np.array([100, 7, 90, 120]))
    assert came_from.origin.tolist() == [3, 5, 3, 3]
    assert came_from.progress_ms.tolist() == [NO_PROGRESS, NO_PROGRESS, 100, 100]
    assert (marks.origin.tolist(), marks.progress_ms.tolist()) == ([3, 5], [120, 7])
    came_from, marks = p.after_batch(np.array([3, 5]), np.array([110, 8]))
    assert came_from.progress_ms.tolist() == [120, 7]  # from the batch before
    assert (marks.origin.tolist(), marks.progress_ms.tolist()) == ([3, 5], [120, 8])
    assert len(p.after_batch(np.empty(0, np.int64), np.empty(0, np.int64))[1]) == 0


def test_a_quiet_origin_is_marked_at_the_wall_clock_after_idle_time_and_never_back():
    p = progress(idle_s=0.2)
    p.after_batch(np.array([1]), np.array([5_000_000_000_000]))  # ahead of the wall clock
    assert len(p.idle({1, 2}, now_ms=1_000)) == 0  # their clocks start now
    time.sleep(0.25)
    marks = p.idle({1, 2}, now_ms=1_000)
    assert marks.origin.tolist() == [1, 2]
    assert marks.progress_ms.tolist() == [5_000_000_000_000, 1_000]  # never behind what it said
    assert len(p.idle({1, 2}, now_ms=2_000)) == 0  # again only after another idle time
    time.sleep(0.25)
    assert p.idle({2}, now_ms=2_000).progress_ms.tolist() == [2_000]
