"""Ground truth of a simulation run: what was planted and what was broken, for scoring a run.

Hotspot counts are *distinct events* (camera repeats and grid status updates excluded, which is
what a consumer counts after de-duplication); ``planted_messages`` adds their follow-ups.
Fault counts are messages, one class each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from typing import Any

__all__ = ["GroundTruth", "write_truth"]


@dataclass(frozen=True, slots=True)
class GroundTruth:
    seed: int
    config: dict[str, Any]  # SimConfig.to_json()
    city: dict[str, Any]  # bbox [min_lon, min_lat, max_lon, max_lat], centre, unit counts
    hotspots: list[dict[str, Any]]  # id, centre, radius, span, multiplier, per-feed counts
    faults: dict[str, int]  # fault class -> messages
    messages: dict[str, int]  # topic -> messages (faulty ones included)
    events: dict[str, dict[str, int]]  # feed -> distinct / follow_up events

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def write_truth(truth: GroundTruth, path: str | PathLike[str]) -> None:
    """Write the ground truth as indented JSON (it is read by people as well as by tests)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(truth.to_json(), fh, indent=2, ensure_ascii=False)
        fh.write("\n")
