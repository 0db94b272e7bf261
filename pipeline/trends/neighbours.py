"""Gi* neighbours of the registry's grid cells: the cells whose centres lie within a distance.

Centres are projected on the city's local plane (equirectangular at their mean latitude, as
:mod:`pipeline.geo.projection`), pairs found with a k-d tree, and returned as CSR lists (the
unit itself excluded: Gi* adds it). The default distance is 1.5 times the median distance from a
cell's centre to the nearest other centre: on a square grid that is 1.5 cell edges, which takes
the eight cells around a cell (the diagonal ones at 1.41 edges) and no farther ring (2 edges),
ArcGIS's queen contiguity on a grid, whatever the cell size of the city.

>>> lat = 31.2 + np.repeat(np.arange(3), 3) * 0.0045   # a 3 x 3 grid of ~500 m cells
>>> lon = 121.4 + np.tile(np.arange(3), 3) * 0.0053
>>> indptr, indices = grid_neighbours(lat, lon)
>>> np.diff(indptr).tolist()                            # corners 3, edges 5, the centre 8
[3, 5, 3, 5, 8, 5, 3, 5, 3]
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from pipeline.geo.projection import EARTH_RADIUS_M

__all__ = ["AUTO_FACTOR", "grid_neighbours"]

#: the default neighbour distance in median nearest-centre distances (see the module docstring)
AUTO_FACTOR = 1.5


def grid_neighbours(
    lat: np.ndarray, lon: np.ndarray, distance_m: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """CSR neighbour lists (``indptr``, ``indices``; int64, each list ascending) of the points
    ``(lat, lon)`` within ``distance_m`` metres of each other; 0 picks the default distance."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    if lat.ndim != 1 or lat.shape != lon.shape:
        raise ValueError("lat and lon must be 1-d arrays of equal length")
    n = len(lat)
    if n < 2:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int64)
    k = math.pi / 180.0 * EARTH_RADIUS_M
    xy = np.column_stack([(lon - lon.mean()) * k * math.cos(math.radians(lat.mean())), lat * k])
    tree = cKDTree(xy)
    if distance_m <= 0:
        nearest, _ = tree.query(xy, k=2)
        distance_m = AUTO_FACTOR * float(np.median(nearest[:, 1]))
    pairs = tree.query_pairs(distance_m, output_type="ndarray")
    both = np.concatenate([pairs, pairs[:, ::-1]]).astype(np.int64)
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(both[:, 0], minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(both[:, 1])
