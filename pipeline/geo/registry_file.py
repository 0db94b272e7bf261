"""Admin-unit registry file: read a GeoJSON FeatureCollection, check it, flatten it per level.

The registry names every unit of the city's four-level grid (district → street → community →
grid cell), the residential compounds inside communities, and the police stations. Each Feature's
``properties`` hold ``code`` (unique across the file), ``name``, ``level``, ``parent`` (the code
of the unit one level up) and ``station_id`` (the responsible station; set on streets and
inherited downwards where a unit has none). A compound may name its property-management company
(``company``, a string; none means unknown), which answers for its rectification
(:mod:`pipeline.ratings`); no other level has one. Geometry is WGS84 ``[lon, lat]``.

Every check runs before anything is raised, so one :class:`RegistryError` lists all problems
found and the person editing the file fixes them in one pass rather than one per run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from pipeline.exceptions import RegistryError

__all__ = ["LEVELS", "PARENT_LEVEL", "UnitLevel", "read_registry"]

LEVELS = ("district", "street", "community", "grid", "compound", "station")
PARENT_LEVEL: dict[str, str | None] = {
    "district": None,
    "street": "district",
    "community": "street",
    "grid": "community",
    "compound": "community",
    "station": "street",
}
_MAX_LISTED = 20  # a broken export can produce thousands of problems; the first ones suffice


@dataclass(frozen=True, eq=False)
class UnitLevel:
    """The units of one level, sorted by code; arrays are read-only.

    ``parent`` indexes the level above (``PARENT_LEVEL``), -1 where there is none (districts,
    stations without a street). ``station_id`` is the station after inheritance, ``""`` if none.
    """

    level: str
    codes: np.ndarray  # str
    names: np.ndarray  # str
    parent: np.ndarray  # int32
    station_id: np.ndarray  # str
    geometry: np.ndarray  # shapely geometries, x = lon, y = lat
    company: np.ndarray  # str: property-management company (compounds), "" if none named

    def __len__(self) -> int:
        return len(self.codes)

    def index_of(self, codes: Any) -> np.ndarray:
        """Index of each code in this level (int32), -1 where the code is unknown."""
        query = np.atleast_1d(np.asarray(codes)).astype(str)
        if len(self.codes) == 0:
            return np.full(query.shape, -1, dtype=np.int32)
        pos = np.searchsorted(self.codes, query).clip(max=len(self.codes) - 1)
        return np.where(self.codes[pos] == query, pos, -1).astype(np.int32)


@dataclass(slots=True)
class _Feature:
    pos: int
    code: str
    level: str
    name: str
    parent: str | None
    station_id: str | None
    geometry: Any  # shapely geometry, or None when unreadable or invalid
    company: str | None = None

    @property
    def who(self) -> str:
        return f"features[{self.pos}] ({self.level} {self.code!r})"


def read_registry(
    source: str | PathLike[str] | Mapping[str, Any],
    *,
    containment_tolerance: float = 0.01,
    max_listed: int | None = _MAX_LISTED,
) -> dict[str, UnitLevel]:
    """Parse and validate a registry; return its units per level (keys: ``LEVELS``).

    ``containment_tolerance`` is the fraction of a grid cell's area allowed to stick out of its
    community (digitised boundaries rarely match exactly) and to overlap another grid cell.
    Raises :class:`RegistryError` listing every problem found (the first ``max_listed`` and a
    count of the rest; None lists them all, as ``hotspot registry check`` does).
    """
    doc, label = _read_document(source)
    problems: list[str] = []
    features = _parse_features(doc, problems)
    by_code = _index_codes(features, problems)
    for f in by_code.values():
        _check_parent(f, by_code, problems)
    stations = _resolve_stations(list(by_code.values()), by_code, problems)
    grids = [f for f in by_code.values() if f.level == "grid" and f.geometry is not None]
    _check_containment(grids, by_code, containment_tolerance, problems)
    _check_overlaps(grids, containment_tolerance, problems)
    if not any(f.level == "grid" for f in by_code.values()):
        problems.append("the registry has no grid cells; add Features with level 'grid'")
    _raise_if_any(problems, label, max_listed)
    return {level: _build_level(level, by_code, stations) for level in LEVELS}


def _read_document(source: str | PathLike[str] | Mapping[str, Any]) -> tuple[Any, str]:
    if isinstance(source, Mapping):
        return source, "<dict>"
    path = Path(source)
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except OSError as exc:
        raise RegistryError(f"cannot read admin-unit registry {path}: {exc}") from exc
    except ValueError as exc:
        raise RegistryError(f"admin-unit registry {path} is not valid JSON: {exc}") from exc


def _raise_if_any(problems: list[str], label: str, max_listed: int | None) -> None:
    if not problems:
        return
    shown = problems if max_listed is None else problems[:max_listed]
    lines = [f"  - {p}" for p in shown]
    if len(problems) > len(shown):
        lines.append(
            f"  ... and {len(problems) - len(shown)} more (`hotspot registry check` lists all)"
        )
    head = f"admin-unit registry {label} has {len(problems)} problem(s):"
    raise RegistryError("\n".join([head, *lines]))


def _parse_features(doc: Any, problems: list[str]) -> list[_Feature]:
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise RegistryError(
            "admin-unit registry must be a GeoJSON FeatureCollection: "
            '{"type": "FeatureCollection", "features": [...]}'
        )
    raw = doc.get("features")
    if not isinstance(raw, list):
        raise RegistryError("admin-unit registry has no 'features' list; add one")
    parsed = (_parse_feature(pos, item, problems) for pos, item in enumerate(raw))
    return [f for f in parsed if f is not None]


def _parse_feature(pos: int, raw: Any, problems: list[str]) -> _Feature | None:
    where = f"features[{pos}]"
    if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
        problems.append(f"{where}: not a GeoJSON Feature; write {{'type': 'Feature', ...}}")
        return None
    props = raw.get("properties")
    props = props if isinstance(props, Mapping) else {}
    code = props.get("code")
    if not isinstance(code, str) or not code.strip():
        problems.append(f"{where}: missing code; set properties.code to a unique non-empty string")
        return None
    level = props.get("level")
    if level not in LEVELS:
        problems.append(
            f"{where} (code {code!r}): unknown level {level!r}; use one of {', '.join(LEVELS)}"
        )
        return None
    f = _Feature(pos, code, level, str(props.get("name") or ""), None, None, None)
    f.parent = _optional_code(f, props, "parent", problems)
    f.station_id = _optional_code(f, props, "station_id", problems)
    f.company = _optional_code(f, props, "company", problems)
    if f.company is not None and f.level != "compound":
        problems.append(
            f"{f.who}: only compounds have a property-management company; remove company "
            "or move it to the compounds it manages"
        )
        f.company = None
    f.geometry = _parse_geometry(f, raw.get("geometry"), problems)
    return f


def _optional_code(f: _Feature, props: Mapping[str, Any], key: str, problems: list[str]):
    value = props.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"{f.who}: {key} {value!r} is not a string; write it as a JSON string")
        return None
    return value


def _parse_geometry(f: _Feature, raw: Any, problems: list[str]) -> Any:
    wanted = ("Point",) if f.level == "station" else ("Polygon", "MultiPolygon")
    got = raw.get("type") if isinstance(raw, Mapping) else None
    if got not in wanted:
        problems.append(f"{f.who}: geometry must be a {' or '.join(wanted)}, got {got!r}")
        return None
    try:
        geom = shapely.force_2d(shapely.geometry.shape(raw))
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.ShapelyError) as e:
        problems.append(f"{f.who}: geometry cannot be read ({e}); coordinates are [lon, lat]")
        return None
    xy = shapely.get_coordinates(geom)
    if geom.is_empty or not np.isfinite(xy).all():
        problems.append(f"{f.who}: geometry is empty or has non-finite coordinates")
        return None
    if (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
        problems.append(f"{f.who}: coordinates outside WGS84; GeoJSON order is [lon, lat]")
        return None
    if not geom.is_valid:
        problems.append(
            f"{f.who}: invalid polygon ({shapely.is_valid_reason(geom)}); fix the ring, "
            "e.g. remove the self-intersection or repair it with shapely.make_valid"
        )
        return None
    return geom


def _index_codes(features: list[_Feature], problems: list[str]) -> dict[str, _Feature]:
    by_code: dict[str, _Feature] = {}
    for f in features:
        first = by_code.setdefault(f.code, f)
        if first is not f:
            problems.append(
                f"{f.who}: duplicate code, already used by features[{first.pos}]; "
                "codes must be unique across all levels"
            )
    return by_code


def _check_parent(f: _Feature, by_code: dict[str, _Feature], problems: list[str]) -> None:
    wanted = PARENT_LEVEL[f.level]
    if wanted is None:
        if f.parent is not None:
            problems.append(f"{f.who}: a district has no parent; set parent to null")
        return
    if f.parent is None:
        # A station may sit outside any street (e.g. a city-wide unit); units may not.
        if f.level != "station":
            problems.append(f"{f.who}: missing parent; set parent to the code of its {wanted}")
        return
    p = by_code.get(f.parent)
    if p is None:
        problems.append(
            f"{f.who}: unknown parent {f.parent!r}; set parent to the code of its {wanted}"
        )
    elif p.level != wanted:
        problems.append(
            f"{f.who}: parent {f.parent!r} is a {p.level}, but a {f.level}'s parent must be "
            f"a {wanted}; set parent to the code of its {wanted}"
        )


def _valid_parent(f: _Feature, by_code: dict[str, _Feature]) -> _Feature | None:
    p = by_code.get(f.parent) if f.parent is not None else None
    return p if p is not None and p.level == PARENT_LEVEL[f.level] else None


def _resolve_stations(
    features: list[_Feature], by_code: dict[str, _Feature], problems: list[str]
) -> dict[str, str]:
    """Effective station per code: the unit's own ``station_id`` or its nearest ancestor's."""
    station_codes = {f.code for f in features if f.level == "station"}
    effective: dict[str, str] = {}
    # Parents come first in LEVELS order, so their effective station is known when needed.
    for f in sorted(features, key=lambda f: LEVELS.index(f.level)):
        if f.level == "station":
            effective[f.code] = f.code
            continue
        if f.station_id is not None and station_codes and f.station_id not in station_codes:
            problems.append(
                f"{f.who}: station_id {f.station_id!r} names no station Feature; add a Feature "
                "with level 'station' and that code, or correct station_id"
            )
        parent = _valid_parent(f, by_code)
        inherited = effective.get(parent.code, "") if parent is not None else ""
        effective[f.code] = f.station_id or inherited
        if f.level == "grid" and not effective[f.code]:
            # Every alert lands on a grid cell; without a station its flags cannot be routed.
            problems.append(
                f"{f.who}: no responsible station on the cell or any parent; set station_id "
                "on its street (or on the cell)"
            )
    return effective


def _check_containment(
    grids: list[_Feature], by_code: dict[str, _Feature], tol: float, problems: list[str]
) -> None:
    pairs = [(g, _valid_parent(g, by_code)) for g in grids]
    pairs = [(g, c) for g, c in pairs if c is not None and c.geometry is not None]
    if not pairs:
        return
    cells = np.array([g.geometry for g, _ in pairs])
    parents = np.array([c.geometry for _, c in pairs])
    outside = shapely.area(shapely.difference(cells, parents)) / shapely.area(cells)
    for k in np.flatnonzero(outside > tol):
        g, c = pairs[k]
        problems.append(
            f"{g.who}: {outside[k]:.1%} of the cell lies outside its community {c.code!r} "
            f"(tolerance {tol:.1%}); fix the cell's polygon or its parent"
        )


def _check_overlaps(grids: list[_Feature], tol: float, problems: list[str]) -> None:
    """Grid cells must tile without overlap, or a point would belong to two cells."""
    if len(grids) < 2:
        return
    cells = np.array([g.geometry for g in grids])
    left, right = shapely.STRtree(cells).query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.area(shapely.intersection(cells[left], cells[right]))
    smaller = np.minimum(shapely.area(cells[left]), shapely.area(cells[right]))
    for k in np.flatnonzero(shared > tol * smaller):
        a, b = grids[left[k]], grids[right[k]]
        problems.append(
            f"{a.who}: overlaps grid cell {b.code!r} (features[{b.pos}]) by "
            f"{shared[k] / smaller[k]:.1%} of the smaller cell; grid cells must not overlap"
        )


def _build_level(level: str, by_code: dict[str, _Feature], stations: dict[str, str]) -> UnitLevel:
    feats = sorted((f for f in by_code.values() if f.level == level), key=lambda f: f.code)
    codes = np.array([f.code for f in feats], dtype=str)
    above = PARENT_LEVEL[level]
    parent = np.full(len(feats), -1, dtype=np.int32)
    if above is not None and feats:
        parent_codes = np.array(sorted(c for c, f in by_code.items() if f.level == above), str)
        named = np.array([f.parent is not None for f in feats])
        wanted = np.array([f.parent or "" for f in feats], dtype=str)
        if len(parent_codes):
            parent[named] = np.searchsorted(parent_codes, wanted[named])
    arrays = (
        codes,
        np.array([f.name for f in feats], dtype=str),
        parent,
        np.array([stations.get(f.code, "") for f in feats], dtype=str),
        np.array([f.geometry for f in feats], dtype=object),
        np.array([(f.company or "").strip() for f in feats], dtype=str),
    )
    for a in arrays:
        a.flags.writeable = False
    return UnitLevel(level, *arrays)
