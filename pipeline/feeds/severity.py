"""How much one alert counts towards a hotspot, by feed and category, in [0, 1].

Zero means "kept for dashboards, not evidence of trouble on the ground": camera health events,
alarm self-tests, grid-report status updates. The table is dense (feed x category) so a batch is
weighted by one fancy-indexing operation.
"""

from __future__ import annotations

import numpy as np

from ..alerts import CATEGORIES, CATEGORY_CODE, SOURCE_CODE, SOURCES

__all__ = ["SEVERITY", "PRIORITY_FACTOR", "severity_of"]

_WEIGHTS: dict[str, dict[str, float]] = {
    "alarm_phone": {
        "panic": 1.0,
        "intrusion": 0.9,
        "fire": 1.0,
        "gas": 0.9,
        "tamper": 0.3,
        "test": 0.0,
        "other": 0.3,
    },
    "dispatch_110": {
        "robbery": 1.0,
        "assault": 1.0,
        "burglary": 0.9,
        "fire": 0.9,
        "theft": 0.7,
        "public_order": 0.7,
        "dispute": 0.6,
        "fraud": 0.4,
        "traffic": 0.3,
        "other": 0.4,
    },
    "camera": {
        "fight": 0.9,
        "face_hit": 0.8,
        "intrusion": 0.7,
        "plate_hit": 0.6,
        "crowd": 0.5,
        "loitering": 0.4,
        "offline": 0.0,
        "online": 0.0,
        "other": 0.2,
    },
    "grid_report": {
        "dispute": 0.5,
        "public_order": 0.5,
        "fire_hazard": 0.4,
        "safety_hazard": 0.3,
        "illegal_business": 0.2,
        "other": 0.2,
    },
}

SEVERITY = np.zeros((len(SOURCES), len(CATEGORIES)), dtype=np.float32)
for _source, _weights in _WEIGHTS.items():
    for _category, _weight in _weights.items():
        SEVERITY[SOURCE_CODE[_source], CATEGORY_CODE[_category]] = _weight

#: 110 priority 1 (most urgent) .. 4 scales the category weight; index 0 is unused.
PRIORITY_FACTOR = np.array([0.0, 1.0, 0.8, 0.6, 0.4], dtype=np.float32)


def severity_of(source: int, category: np.ndarray) -> np.ndarray:
    """Base weight of each alert of one feed, before feed-specific factors."""
    return SEVERITY[source, category]
