"""Video-analytics alerts from public cameras: numerous, repetitive and noisy."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..alerts import SOURCE_CATEGORIES
from .wire import EventTime, Latitude, Longitude, SourceId, enum_field

__all__ = ["CameraAlert"]


class CameraAlert(msgspec.Struct, frozen=True, gc=False):
    """One analytics alert on topic ``alerts.camera``."""

    alert_id: SourceId
    camera_id: SourceId
    detected_at: EventTime
    kind: enum_field(SOURCE_CATEGORIES["camera"], "What the analytics detected")
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0, description="Detector score 0..1")]
    lat: Latitude
    lon: Longitude
