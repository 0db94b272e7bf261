"""Household alarm phones and panic buttons (the "home guard" line)."""

from __future__ import annotations

import msgspec

from ..alerts import SOURCE_CATEGORIES
from .wire import EventTime, Latitude, Longitude, SourceId, enum_field

__all__ = ["AlarmPhoneAlert"]


class AlarmPhoneAlert(msgspec.Struct, frozen=True, gc=False):
    """One alarm trigger on topic ``alerts.alarm_phone``."""

    event_id: SourceId
    device_id: SourceId
    household_id: SourceId
    trigger: enum_field(SOURCE_CATEGORIES["alarm_phone"], "What set the alarm off")
    triggered_at: EventTime
    lat: Latitude
    lon: Longitude
    caller_phone: str | None = None
    address: str | None = None
