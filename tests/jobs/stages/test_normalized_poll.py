"""A poll of alerts.normalized splits into envelopes and watermark marks, each mark kept where
it stands among its partition's alerts (jobs/stages/normalized_poll.py).

The records are built as the worker publishes them (normalised alerts as envelope records,
marks as their records); no broker is needed to split them.
"""

from __future__ import annotations

import msgspec
import numpy as np
from aiokafka.structs import ConsumerRecord

from jobs.consumer import Polled
from jobs.stages.normalized_poll import split_poll
from pipeline.envelope import encode_envelopes, envelope_table
from pipeline.geo.admin_units import load_registry
from pipeline.marks import MARK_KEY, NO_PROGRESS, Marks, Origins, encode_marks
from pipeline.normalize import NormalizeContext, normalize
from pipeline.patrol import ACK_KEY, AckRecord
from pipeline.settings import Settings
from tests.conftest import PSEUDONYM_KEY
from tests.jobs.test_worker import camera, encode


def _poll(records: dict[int, list[tuple[bytes | None, bytes]]]) -> Polled:
    """A poll of alerts.normalized: per partition, its (key, value) records in offset order."""
    return Polled.of(
        "t.normalized",
        {
            p: [
                ConsumerRecord("t.normalized", p, o, 0, 0, k, v, None, 0, 0, ())
                for o, (k, v) in enumerate(rs)
            ]
            for p, rs in records.items()
        },
    )


def _envelope(settings, registry, lat, lon, ids: list[str], origin: list[int]) -> bytes:
    values = [encode(camera(i, lat=lat, lon=lon)) for i in ids]
    batch = normalize("camera", values, NormalizeContext.from_settings(settings, registry))
    (value,) = encode_envelopes(
        envelope_table(batch, registry),
        np.arange(len(ids)),
        np.full(len(ids), b"0:0"),
        np.zeros(len(ids), bool),
        origins=Origins(np.array(origin), np.full(len(ids), NO_PROGRESS)),
    )
    return value


def test_a_poll_splits_into_alerts_and_marks_in_offset_order(city, tmp_path):
    settings = Settings(
        data_dir=tmp_path, registry_path=city.registry, pseudonym_key=PSEUDONYM_KEY, partitions=2
    )
    registry = load_registry(city.registry)
    lat, lon = float(registry.grid_centroid_lat[0]), float(registry.grid_centroid_lon[0])

    def mark(origin: int, t: int) -> tuple[bytes, bytes]:
        return MARK_KEY, encode_marks(Marks(np.array([origin]), np.array([t])))[0]

    polled = _poll(
        {
            0: [
                (None, _envelope(settings, registry, lat, lon, ["a", "b"], [1, 2])),
                mark(1, 500),
                (None, _envelope(settings, registry, lat, lon, ["c"], [3])),
                mark(2, 600),
                mark(3, 700),
            ],
            1: [mark(0, 100), (MARK_KEY, b"{not json"), mark(99, 5)],
        }
    )
    split = split_poll(polled, registry, origins=8)
    assert split.decoded.alerts.alert_id.tolist() == ["camera:a", "camera:b", "camera:c"]
    assert split.decoded.origins.origin.tolist() == [1, 2, 3]
    assert split.decoded.record.tolist() == [0, 0, 2]  # the poll's records
    rows = split.rows(polled)
    assert {p: r.tolist() for p, r in rows.items()} == {0: [0, 1, 2], 1: []}
    at, marks = split.marks[0]
    assert at.tolist() == [2, 3, 3]  # after a and b; after c; after c
    assert marks.origin.tolist() == [1, 2, 3] and marks.progress_ms.tolist() == [500, 600, 700]
    at, marks = split.marks[1]
    assert at.tolist() == [0] and marks.origin.tolist() == [0]
    assert [(r.index, r.reason.value) for r in split.bad] == [
        (6, "malformed_record"),
        (7, "invalid_value"),
    ]


def test_acks_are_kept_apart_with_the_rows_and_marks_before_each(city, tmp_path):
    """Acks (pipeline/patrol) are cut points: each knows how many of its partition's rows and
    marks precede it; one this pipeline did not write is dead-lettered, the rest go on."""
    settings = Settings(
        data_dir=tmp_path, registry_path=city.registry, pseudonym_key=PSEUDONYM_KEY, partitions=2
    )
    registry = load_registry(city.registry)
    lat, lon = float(registry.grid_centroid_lat[0]), float(registry.grid_centroid_lon[0])
    mark = (MARK_KEY, encode_marks(Marks(np.array([1]), np.array([500])))[0])

    def ack(n: int) -> tuple[bytes, bytes]:
        record = AckRecord(f"ntc-0-{n:016x}", "PS1", "received", 1, None, None, "acks/0/0")
        return ACK_KEY, msgspec.json.encode(record)

    polled = _poll(
        {
            0: [
                ack(1),
                (None, _envelope(settings, registry, lat, lon, ["a", "b"], [1, 2])),
                mark,
                ack(2),
                (ACK_KEY, b"{}"),
                (None, _envelope(settings, registry, lat, lon, ["c"], [3])),
                ack(3),
            ],
            1: [ack(4)],
        }
    )
    split = split_poll(polled, registry, origins=8)
    assert split.decoded.alerts.alert_id.tolist() == ["camera:a", "camera:b", "camera:c"]
    assert split.decoded.record.tolist() == [1, 1, 5]
    assert split.marks[0][0].tolist() == [2]
    acks = split.acks[0]
    assert [r.notice_id[-1] for r in acks.records] == ["1", "2", "3"]
    assert acks.rows_before.tolist() == [0, 2, 3]
    assert acks.marks_before.tolist() == [0, 1, 1]
    assert acks.index == [0, 3, 6]
    assert split.acks[1].index == [7] and split.acks[1].rows_before.tolist() == [0]
    assert {p: r.tolist() for p, r in split.rows(polled).items()} == {0: [0, 1, 2], 1: []}
    assert [(r.index, r.reason.value) for r in split.bad] == [(4, "malformed_record")]
