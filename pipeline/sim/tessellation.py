"""Nested Voronoi tessellation: split a polygon into irregular children that tile it exactly.

Admin units are drawn top-down: a parent polygon gets ``n`` seed points, their Voronoi cells are
clipped to the parent with shapely, and each child is tessellated again. Clipping by the parent is
what makes every child lie inside its parent and the children tile it without gaps or overlaps
(up to float noise), which the registry's consumers rely on for point-in-unit lookups.

Seeds are drawn from a density surface, so units are smaller where people live closer together
(real districts and streets are sized by population, not area), then one Lloyd step pulls them
apart enough to avoid slivers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from scipy.spatial import Voronoi
from shapely.geometry import Polygon

__all__ = ["Density", "random_points_in", "tessellate"]

#: Relative population density at metre coordinates ``(x, y)``; any positive scale.
Density = Callable[[np.ndarray, np.ndarray], np.ndarray]

_LLOYD_STEPS = 1  # one step removes slivers; more would erase the density gradient


def random_points_in(
    polygon: Polygon, n: int, rng: np.random.Generator, density: Density | None = None
) -> np.ndarray:
    """``n`` points inside ``polygon`` (shape ``(n, 2)``), uniform or following ``density``."""
    minx, miny, maxx, maxy = polygon.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        # Oversample by the inverse fill ratio so one or two rounds usually suffice.
        fill = max(polygon.area / ((maxx - minx) * (maxy - miny)), 0.05)
        k = int((n - len(out)) / fill * 1.5) + 16
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        keep = shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])
        if density is not None:
            d = density(xy[:, 0], xy[:, 1])
            keep &= rng.random(k) * d.max() < d
        out = np.concatenate([out, xy[keep]])
    return out[:n]


def _clipped_cells(parent: Polygon, seeds: np.ndarray) -> list[Polygon]:
    """Voronoi cells of ``seeds`` clipped to ``parent``, in seed order."""
    minx, miny, maxx, maxy = parent.bounds
    span = 10.0 * max(maxx - minx, maxy - miny)
    cx, cy = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    # Four far-away guard points make every real seed's region finite.
    guards = np.array(
        [
            [cx - span, cy - span],
            [cx + span, cy - span],
            [cx + span, cy + span],
            [cx - span, cy + span],
        ]
    )
    vor = Voronoi(np.concatenate([seeds, guards]))
    cells = []
    for i in range(len(seeds)):
        region = vor.regions[vor.point_region[i]]
        cell = Polygon(vor.vertices[region]).intersection(parent)
        cells.append(_largest_polygon(cell))
    return cells


def _largest_polygon(geom: shapely.Geometry) -> Polygon:
    # Clipping a convex cell by a convex parent is convex, so this only drops degenerate slivers
    # (points, lines) that float noise can leave on the boundary.
    if isinstance(geom, Polygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    return max(polys, key=lambda g: g.area)


def tessellate(
    parent: Polygon, n: int, rng: np.random.Generator, density: Density | None = None
) -> list[Polygon]:
    """Split ``parent`` into ``n`` irregular polygons that tile it.

    Children are ordered west to east by centroid, so sibling codes read like a map.
    """
    if n < 1:
        raise ValueError(f"cannot split a polygon into {n} parts; ask for at least 1")
    if n == 1:
        return [parent]
    seeds = random_points_in(parent, n, rng, density)
    for _ in range(_LLOYD_STEPS):
        seeds = np.array([c.centroid.coords[0] for c in _clipped_cells(parent, seeds)])
    cells = [c for c in _clipped_cells(parent, seeds) if not c.is_empty]
    return sorted(cells, key=lambda c: c.centroid.x)
