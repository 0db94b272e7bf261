"""Local metric projection: WGS84 lat/lon to metres east/north of a city's reference point.

An equirectangular projection scaled at the reference latitude. Over a city (tens of km) its
distance error stays well under 0.1 %, far below GPS noise, and it costs two multiplies a point,
which matters on the hot path. Distances everywhere in the pipeline are measured in this plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["EARTH_RADIUS_M", "LocalProjection"]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


@numba.njit(cache=True)
def _forward(lat, lon, lat0, lon0, x_out, y_out):
    k = math.pi / 180.0 * EARTH_RADIUS_M
    kx = k * math.cos(lat0 * math.pi / 180.0)
    for i in range(lat.shape[0]):
        x_out[i] = (lon[i] - lon0) * kx
        y_out[i] = (lat[i] - lat0) * k


@numba.njit(cache=True)
def _inverse(x, y, lat0, lon0, lat_out, lon_out):
    k = math.pi / 180.0 * EARTH_RADIUS_M
    kx = k * math.cos(lat0 * math.pi / 180.0)
    for i in range(x.shape[0]):
        lon_out[i] = lon0 + x[i] / kx
        lat_out[i] = lat0 + y[i] / k


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Metres east (``x``) and north (``y``) of ``(lat0, lon0)``.

    >>> p = LocalProjection(30.25, 120.15)
    >>> x, y = p.to_xy(np.array([30.25]), np.array([120.16]))
    >>> round(float(x[0]))
    961
    """

    lat0: float
    lon0: float

    def to_xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat = np.ascontiguousarray(lat, dtype=np.float64)
        lon = np.ascontiguousarray(lon, dtype=np.float64)
        if lat.shape != lon.shape or lat.ndim != 1:
            raise ValueError("lat and lon must be 1-d arrays of the same length")
        x = np.empty_like(lat)
        y = np.empty_like(lat)
        _forward(lat, lon, self.lat0, self.lon0, x, y)
        return x, y

    def to_latlon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError("x and y must be 1-d arrays of the same length")
        lat = np.empty_like(x)
        lon = np.empty_like(x)
        _inverse(x, y, self.lat0, self.lon0, lat, lon)
        return lat, lon
