"""110 emergency calls turned into dispatches by the CAD system."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..alerts import SOURCE_CATEGORIES
from .wire import EventTime, Latitude, Longitude, SourceId, enum_field

__all__ = ["Dispatch110Alert"]


class Dispatch110Alert(msgspec.Struct, frozen=True, gc=False):
    """One dispatch on topic ``alerts.dispatch_110``."""

    incident_id: SourceId
    received_at: EventTime
    category: enum_field(SOURCE_CATEGORIES["dispatch_110"], "Incident category")
    priority: Annotated[int, msgspec.Meta(ge=1, le=4, description="1 most urgent .. 4")]
    lat: Latitude
    lon: Longitude
    station_id: str | None = None
    caller_phone: str | None = None
    summary: str | None = None
