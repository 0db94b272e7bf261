"""Field types shared by the four wire schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta

__all__ = ["EventTime", "SourceId", "Latitude", "Longitude", "enum_field"]

#: Event time: ISO 8601 with an explicit UTC offset, or integer epoch milliseconds.
EventTime = (
    # Bounded to int64: a larger integer would otherwise decode and then overflow the batch's
    # int64 column, raising for the whole batch instead of rejecting the one message.
    Annotated[
        int,
        Meta(ge=-(2**63), le=2**63 - 1, description="Event time in epoch milliseconds (UTC)."),
    ]
    | Annotated[
        datetime,
        Meta(tz=True, description="Event time, ISO 8601 with an explicit UTC offset."),
    ]
)

SourceId = Annotated[str, Meta(min_length=1, max_length=256, description="Source-unique id.")]
Latitude = Annotated[float, Meta(description="Latitude, degrees (WGS84 unless configured GCJ-02).")]
Longitude = Annotated[
    float, Meta(description="Longitude, degrees (WGS84 unless configured GCJ-02).")
]


def enum_field(values: tuple[str, ...], what: str):
    """A string field documented as an enum. Unknown values decode and become ``other``."""
    return Annotated[
        str,
        Meta(
            description=f"{what}. Producers send one of the listed values; a consumer maps "
            "any other value to `other` and counts it.",
            extra_json_schema={"enum": list(values)},
        ),
    ]
