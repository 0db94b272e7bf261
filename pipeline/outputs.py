"""What the pipeline publishes for patrols: flags and incidents tagged with their admin units.

The correlation engine knows grid cells by registry index; consumers outside the worker route
by code. These messages add the grid, community, street and district codes and the responsible
police station, so a patrol system can route a flag without the registry.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from .correlate import FlagEvent, Incident
from .geo.admin_units import AdminRegistry

__all__ = ["FlagMessage", "IncidentMessage", "flag_messages", "incident_messages"]


class FlagMessage(FlagEvent, frozen=True, kw_only=True):
    """A flag version on ``hotspots.flags`` (keyed by ``flag_id``; highest version wins)."""

    grid_code: str = ""
    community_code: str = ""
    street_code: str = ""
    district_code: str = ""
    station_id: str = ""  # responsible police station


class IncidentMessage(Incident, frozen=True, kw_only=True):
    """An incident on ``incidents.correlated`` (keyed by ``incident_id``)."""

    grid_code: str = ""
    community_code: str = ""
    street_code: str = ""
    district_code: str = ""
    station_id: str = ""  # responsible police station


def _tagged(records: Sequence, registry: AdminRegistry, message_type: type) -> list:
    """Units of the cell that contains each record's centre, so every version of one flag is
    routed alike; where the centre lies outside the grid, the engine's nearest member's cell."""
    if not records:
        return []
    lat = np.array([r.lat for r in records])
    lon = np.array([r.lon for r in records])
    grid = registry.locate(lat, lon)
    outside = grid < 0
    grid[outside] = np.array([r.grid for r in records], dtype=np.int32)[outside]
    units = {name: values.tolist() for name, values in registry.unit_columns(grid).items()}
    return [
        message_type(**msgspec.structs.asdict(record), **{k: v[i] for k, v in units.items()})
        for i, record in enumerate(records)
    ]


def flag_messages(flags: Sequence[FlagEvent], registry: AdminRegistry) -> list[FlagMessage]:
    return _tagged(flags, registry, FlagMessage)


def incident_messages(
    incidents: Sequence[Incident], registry: AdminRegistry
) -> list[IncidentMessage]:
    return _tagged(incidents, registry, IncidentMessage)
