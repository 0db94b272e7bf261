"""Regression: an unexpected failure in the normalise stage must not stop the worker or lose the
good messages of its batch (``normalize_each`` isolates the message that fails)."""

from __future__ import annotations

import json

import numpy as np

from pipeline.deadletter import Reason
from pipeline.dedupe import DedupeIndex
from pipeline.normalize import NormalizeContext, normalize_each
from pipeline.privacy import Pseudonymizer
from pipeline.settings import Area


class _Registry:
    """A registry whose point lookup fails for one poisoned longitude (simulating a bug)."""

    poisoned_lon = 120.1234

    def locate(self, lat, lon):
        if np.any(lon == self.poisoned_lon):
            raise RuntimeError("boom 13800001111")  # text that must not reach the dead letter
        return np.zeros(len(lat), dtype=np.int32)


def camera(alert_id: str, lon: float) -> bytes:
    return json.dumps(
        {
            "alert_id": alert_id,
            "camera_id": "c",
            "detected_at": 1_700_000_000_000,
            "kind": "fight",
            "confidence": 0.5,
            "lat": 30.2,
            "lon": lon,
        }
    ).encode()


def test_the_failing_message_is_isolated_and_the_others_pass_once():
    ctx = NormalizeContext(
        registry=_Registry(),
        area=Area(min_lat=29, min_lon=119, max_lat=31, max_lon=121),
        dedupe=DedupeIndex(3_600_000),
        pseudonymizer=Pseudonymizer(b"k" * 16),
        clock_ms=lambda: 1_700_000_100_000,
    )
    values = [
        camera("a", 120.1),
        b"{broken",
        camera("b", _Registry.poisoned_lon),
        camera("c", 120.2),
    ]
    batch = normalize_each("camera", values, ctx)
    assert batch.alerts.alert_id.tolist() == ["camera:a", "camera:c"]
    assert batch.index.tolist() == [0, 3]
    assert [(r.index, r.reason) for r in batch.rejects] == [
        (1, Reason.MALFORMED_JSON),
        (2, Reason.INTERNAL_ERROR),
    ]
    assert "13800001111" not in batch.rejects[1].detail
    again = normalize_each("camera", [camera("a", 120.1)], ctx)
    assert len(again.alerts) == 0 and again.duplicates == 1, "delivered ids are remembered"
