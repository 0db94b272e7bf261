"""GCJ-02 ("Mars coordinates"), the obfuscated datum Chinese map SDKs report, to and from WGS84.

The forward offset is the published Krasovsky-ellipsoid formula every open implementation uses
(eviltransform, coordtransform, ...). It shifts points by a few hundred metres, so a source that
reports GCJ-02 must be converted on ingest or its alerts land in the wrong grid cell. There is no
closed-form inverse; :func:`gcj02_to_wgs84` runs a fixed-point iteration on the forward map,
which converges because the offset varies slowly (its Jacobian is close to the identity).

Both functions work on whole arrays and leave points outside the rough mainland-China box
unchanged, as the datum is only defined (and only applied by the SDKs) inside it.

>>> lat, lon = wgs84_to_gcj02(np.array([39.9087]), np.array([116.3975]))
>>> round(float(lat[0]), 4), round(float(lon[0]), 4)
(39.9101, 116.4037)
"""

from __future__ import annotations

import numpy as np

__all__ = ["in_china", "wgs84_to_gcj02", "gcj02_to_wgs84"]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, metres
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared

# The usual rough mainland box; the SDKs test exactly this, so a finer border would disagree
# with the devices we decode.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

_TOLERANCE_DEG = 1e-9  # well under the 1e-7 degrees (~1 cm) the round trip must achieve
_MAX_ITERATIONS = 30  # converges in ~5; the cap only guards against NaN input


def in_china(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside the rough mainland-China box."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def _offset(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84, in degrees, for WGS84 points (no China test)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * pi)
    return dlat, dlon


def _as_pair(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array(lat, dtype=np.float64, copy=True)
    lon = np.array(lon, dtype=np.float64, copy=True)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon must have the same shape, got {lat.shape} and {lon.shape}")
    return lat, lon


def wgs84_to_gcj02(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 ``(lat, lon)`` of WGS84 points; points outside China come back unchanged."""
    lat, lon = _as_pair(lat, lon)
    inside = in_china(lat, lon)
    dlat, dlon = _offset(lat[inside], lon[inside])
    lat[inside] += dlat
    lon[inside] += dlon
    return lat, lon


def gcj02_to_wgs84(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 ``(lat, lon)`` of GCJ-02 points, exact to ~1e-9 degrees; outside China unchanged.

    Fixed point of ``w = g - offset(w)``: start from ``g`` and correct by the residual of the
    forward map until it is below tolerance everywhere.
    """
    g_lat, g_lon = _as_pair(lat, lon)
    inside = in_china(g_lat, g_lon)
    t_lat, t_lon = g_lat[inside], g_lon[inside]
    w_lat, w_lon = t_lat.copy(), t_lon.copy()
    for _ in range(_MAX_ITERATIONS):
        dlat, dlon = _offset(w_lat, w_lon)
        r_lat = w_lat + dlat - t_lat
        r_lon = w_lon + dlon - t_lon
        w_lat -= r_lat
        w_lon -= r_lon
        if r_lat.size == 0 or max(np.abs(r_lat).max(), np.abs(r_lon).max()) < _TOLERANCE_DEG:
            break
    g_lat[inside] = w_lat
    g_lon[inside] = w_lon
    return g_lat, g_lon
