"""The normalised alert in columnar form, and the vocabularies its integer codes index.

Everything downstream of decoding (correlation, scoring, sinks) works on :class:`AlertBatch`:
one NumPy array per field, so kernels receive plain arrays and no stage loops over events in
Python. Integer codes keep the arrays compact; the tuples below turn them back into names.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "SOURCES",
    "CATEGORIES",
    "SOURCE_CODE",
    "CATEGORY_CODE",
    "SOURCE_CATEGORIES",
    "NEUTRAL_CATEGORY",
    "AlertBatch",
]

#: Feed names, in code order. ``source`` columns hold the index into this tuple.
SOURCES: tuple[str, ...] = ("alarm_phone", "dispatch_110", "camera", "grid_report")
SOURCE_CODE: dict[str, int] = {name: code for code, name in enumerate(SOURCES)}

#: The values each feed's category field may take on the wire (trigger, category, kind, category).
SOURCE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "alarm_phone": ("panic", "intrusion", "fire", "gas", "tamper", "test"),
    "dispatch_110": (
        "theft",
        "robbery",
        "burglary",
        "assault",
        "fraud",
        "dispute",
        "traffic",
        "fire",
        "public_order",
        "other",
    ),
    "camera": (
        "intrusion",
        "loitering",
        "crowd",
        "fight",
        "plate_hit",
        "face_hit",
        "offline",
        "online",
    ),
    "grid_report": (
        "dispute",
        "safety_hazard",
        "public_order",
        "fire_hazard",
        "illegal_business",
        "other",
    ),
}

#: What an unknown wire value becomes. Every feed maps to ``other``: it counts as an alert
#: but carries no category-specific weight, and the substitution itself is counted.
NEUTRAL_CATEGORY = "other"

#: One shared vocabulary (sorted, stable) so a category code means the same in every feed.
CATEGORIES: tuple[str, ...] = tuple(
    sorted({c for cats in SOURCE_CATEGORIES.values() for c in cats} | {NEUTRAL_CATEGORY})
)
CATEGORY_CODE: dict[str, int] = {name: code for code, name in enumerate(CATEGORIES)}


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """A batch of normalised alerts, one array per field, all of the same length.

    ``alert_id`` is ``"<source>:<source id>"``, unique across feeds. Unit columns index the
    admin registry's arrays (``-1`` when the point lies in no unit). Personal fields are already
    pseudonymised here: ``subject`` is a keyed hash (hex) or empty, never clear text.
    """

    alert_id: np.ndarray  # object (str)
    source: np.ndarray  # int8, index into SOURCES
    event_ms: np.ndarray  # int64, epoch milliseconds UTC
    lat: np.ndarray  # float64, WGS84
    lon: np.ndarray  # float64, WGS84
    category: np.ndarray  # int16, index into CATEGORIES
    severity: np.ndarray  # float32 in [0, 1]; 0 means "do not count towards hotspots"
    grid: np.ndarray  # int32, index of the grid cell in the registry, -1 if outside

    def __post_init__(self) -> None:
        n = len(self.alert_id)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(
                    f"AlertBatch column {f.name!r} has a different length than alert_id"
                )

    def __len__(self) -> int:
        return len(self.alert_id)

    @classmethod
    def empty(cls) -> AlertBatch:
        return cls(
            alert_id=np.empty(0, dtype=object),
            source=np.empty(0, dtype=np.int8),
            event_ms=np.empty(0, dtype=np.int64),
            lat=np.empty(0, dtype=np.float64),
            lon=np.empty(0, dtype=np.float64),
            category=np.empty(0, dtype=np.int16),
            severity=np.empty(0, dtype=np.float32),
            grid=np.empty(0, dtype=np.int32),
        )

    def take(self, index: np.ndarray) -> AlertBatch:
        """Rows selected by a boolean mask or an integer index array, in that order."""
        return AlertBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, batches: list[AlertBatch]) -> AlertBatch:
        if not batches:
            return cls.empty()
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)}
        )
