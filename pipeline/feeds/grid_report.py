"""Reports by grid workers, each patrolling one cell of the four-level grid.

A report moves through ``reported → dispatched → resolved``; each step is its own message.
Only a ``reported`` step is a new event on the ground, so later steps carry no hotspot weight
(see :mod:`pipeline.feeds.severity`), but they are kept for time-to-resolve dashboards.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..alerts import SOURCE_CATEGORIES
from .wire import EventTime, Latitude, Longitude, SourceId, enum_field

__all__ = ["GridReport", "REPORT_STATUSES"]

REPORT_STATUSES: tuple[str, ...] = ("reported", "dispatched", "resolved")


class GridReport(msgspec.Struct, frozen=True, gc=False):
    """One report (or status change) on topic ``alerts.grid_report``.

    Needs ``grid_code`` or both ``lat`` and ``lon``; without coordinates the grid cell's
    centroid is used.
    """

    report_id: SourceId
    reporter_id: SourceId
    reported_at: EventTime
    category: enum_field(SOURCE_CATEGORIES["grid_report"], "What was reported")
    status: Annotated[
        str,
        msgspec.Meta(
            description="Lifecycle step of the report.",
            extra_json_schema={"enum": list(REPORT_STATUSES)},
        ),
    ]
    grid_code: str | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    parent_report_id: Annotated[
        str | None,
        msgspec.Meta(description="The report this message updates, when its id differs."),
    ] = None
