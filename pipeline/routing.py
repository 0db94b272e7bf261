"""Where a normalised alert goes: its 4 km tile, the partition that owns it, and halo copies.

The live worker sends each alert to the ``alerts.normalized`` partition of its tile and runs
one correlator per partition; a correlator publishes only flags and incidents whose centre lies
in a tile its partition owns.
The backfill does exactly the same in process: both call these functions, so a backfill and a
live run route and own alerts identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .geo.admin_units import AdminRegistry
from .geo.projection import LocalProjection
from .geo.tiles import halo_copies, tile_keys

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["TileRouting", "Routed", "city_projection", "tile_partition"]


def city_projection(registry: AdminRegistry) -> LocalProjection:
    """The local projection centred on the registry's extent (the city's projection)."""
    min_lat, min_lon, max_lat, max_lon = registry.bbox
    return LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)


def tile_partition(ix: np.ndarray, iy: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each tile: a fixed integer hash, the same in every worker and every run."""
    mixed = (ix.astype(np.int64) * 73_856_093) ^ (iy.astype(np.int64) * 19_349_663)
    return np.mod(mixed, partitions)


@dataclass(frozen=True, slots=True)
class Routed:
    """Rows to publish: input row, tile key (``b"ix:iy"``), partition, and halo flag."""

    row: np.ndarray
    key: np.ndarray
    partition: np.ndarray
    halo: np.ndarray


@dataclass(frozen=True, slots=True)
class TileRouting:
    """Tile side, halo width and partition count, on the city's projection."""

    projection: LocalProjection
    tile_m: float
    halo_m: float
    partitions: int

    @classmethod
    def from_settings(cls, settings: Settings, registry: AdminRegistry) -> TileRouting:
        """The routing of a deployment: its tiles, halo and partitions on the city's projection."""
        return cls(city_projection(registry), settings.tile_m, settings.halo_m, settings.partitions)

    def route(self, lat: np.ndarray, lon: np.ndarray) -> Routed:
        """Own tile of every point, plus halo copies only where they add a partition."""
        x, y = self.projection.to_xy(lat, lon)
        row, ix, iy, halo = halo_copies(x, y, self.tile_m, self.halo_m)
        partition = tile_partition(ix, iy, self.partitions)
        # a halo copy is only useful in a partition the alert does not already reach
        _, first = np.unique(row * self.partitions + partition, return_index=True)
        keep = np.zeros(len(row), dtype=bool)
        keep[first] = True
        order = np.flatnonzero(keep)
        return Routed(row[order], tile_keys(ix[order], iy[order]), partition[order], halo[order])

    def owns(self, partition: int, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Which points lie in a tile that ``partition`` owns."""
        x, y = self.projection.to_xy(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
        ix, iy = np.floor(x / self.tile_m), np.floor(y / self.tile_m)
        return tile_partition(ix, iy, self.partitions) == partition

    def owned(self, partition: int, items: list) -> list:
        """The flags or incidents (anything with ``lat``/``lon``) that ``partition`` publishes."""
        if not items:
            return []
        lat = np.array([i.lat for i in items])
        lon = np.array([i.lon for i in items])
        return [i for i, own in zip(items, self.owns(partition, lat, lon), strict=True) if own]
