"""Origins and watermark marks on alerts.normalized (pipeline/marks.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.alerts import SOURCE_CODE
from pipeline.exceptions import ConfigurationError
from pipeline.marks import (
    MARK_KEY,
    Marks,
    check_feed_partitions,
    encode_marks,
    origin_count,
    origin_ids,
    split_marks,
)


def test_origins_are_dense_feed_partitions():
    assert origin_count(3) == 12
    assert origin_ids(SOURCE_CODE["camera"], np.array([0, 2]), 3).tolist() == [6, 8]
    every = [origin_ids(code, np.arange(3), 3) for code in SOURCE_CODE.values()]
    assert np.concatenate(every).tolist() == list(range(12))


def test_marks_are_told_from_envelopes_by_their_key_and_bad_ones_are_rejected():
    good = encode_marks(Marks(np.array([1, 3]), np.array([10, 20])))
    keys = [None, MARK_KEY, b"other", MARK_KEY, MARK_KEY, MARK_KEY]
    values = [b"arrow", good[0], b"arrow?", b"[1, 2]", good[1], b'{"origin": 8, "progress_ms": 1}']
    envelopes, at, marks, rejects = split_marks(keys, values, origins=8)
    assert envelopes.tolist() == [0, 2]  # a key that is not the mark key is no mark
    assert at.tolist() == [1, 4]
    assert (marks.origin.tolist(), marks.progress_ms.tolist()) == ([1, 3], [10, 20])
    assert [(r.index, r.reason.value) for r in rejects] == [
        (3, "malformed_record"),
        (5, "invalid_value"),
    ]
    assert "another `partitions` setting" in rejects[1].detail


def test_feed_topics_with_another_partition_count_are_refused_with_what_to_do():
    check_feed_partitions({"alerts.camera": 4, "alerts.alarm_phone": 4}, 4)
    with pytest.raises(ConfigurationError, match="set HOTSPOT_PARTITIONS"):
        check_feed_partitions({"alerts.camera": 8, "alerts.alarm_phone": 4}, 4)
