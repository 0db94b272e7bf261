"""The normalise stage: raw values of one feed in, normalised alerts and rejects out.

Pure and transport-agnostic: the worker's normalise stage calls it on a batch taken from a
topic, and the backfill job calls it on lines of a file. Steps, each vectorised over the batch:

1. decode and validate (:mod:`pipeline.feeds.decode`);
2. convert GCJ-02 coordinates where the feed is configured so;
3. place grid reports that only name their cell at the cell's centroid;
4. reject times too far in the future or past, and points outside the area;
5. drop duplicates (same feed and id within the horizon);
6. tag the grid cell (hence every admin unit and the responsible station);
7. pseudonymise personal fields and drop free text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import numpy as np

from .alerts import SOURCE_CODE, AlertBatch
from .deadletter import Reason
from .dedupe import DedupeIndex
from .feeds.decode import FEEDS, DecodedBatch, Reject, decode_batch
from .feeds.severity import PRIORITY_FACTOR, SEVERITY
from .geo.admin_units import AdminRegistry
from .geo.gcj02 import gcj02_to_wgs84
from .privacy import Pseudonymizer
from .settings import Area, Settings

__all__ = ["NormalizeContext", "NormalizedBatch", "normalize", "normalize_each"]


@dataclass
class NormalizeContext:
    """What the stage needs besides the batch; one per worker, shared by the four feeds."""

    registry: AdminRegistry
    area: Area
    dedupe: DedupeIndex
    pseudonymizer: Pseudonymizer
    gcj02_feeds: frozenset[str] = frozenset()
    max_future_ms: int = 600_000
    max_age_ms: int = 0  # 0: no lower bound on event time
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    decoders: dict[str, msgspec.json.Decoder] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, registry: AdminRegistry) -> NormalizeContext:
        return cls(
            registry=registry,
            area=settings.area or registry_area(registry, settings.area_margin_m),
            dedupe=DedupeIndex(int(settings.dedupe_horizon_s * 1000)),
            pseudonymizer=Pseudonymizer(settings.pseudonym_secret()),
            gcj02_feeds=frozenset(
                s for s, cs in settings.coordinate_systems.items() if cs == "gcj02"
            ),
            max_future_ms=int(settings.max_future_s * 1000),
            max_age_ms=int(settings.max_age_s * 1000),
        )

    def decoder(self, source: str) -> msgspec.json.Decoder:
        if source not in self.decoders:
            self.decoders[source] = FEEDS[source].decoder()
        return self.decoders[source]


def registry_area(registry: AdminRegistry, margin_m: float) -> Area:
    min_lat, min_lon, max_lat, max_lon = registry.bbox
    dlat = margin_m / 111_195.0
    dlon = dlat / max(np.cos(np.radians((min_lat + max_lat) / 2)), 1e-6)
    return Area(
        min_lat=min_lat - dlat,
        min_lon=min_lon - dlon,
        max_lat=max_lat + dlat,
        max_lon=max_lon + dlon,
    )


@dataclass
class NormalizedBatch:
    """Result of :func:`normalize` for one input batch.

    ``index`` maps each alert row to its input slot; ``extras`` holds the envelope's
    feed-specific fields (already pseudonymised), ``rejects`` the dead letters to write.
    ``duplicate_index`` and ``duplicate_event_ms``: the input slots and event times of the
    alerts dropped as duplicates (they still say how far their feed partition got,
    :mod:`jobs.watermarks`).
    """

    source: str
    alerts: AlertBatch
    source_id: np.ndarray
    index: np.ndarray
    extras: dict[str, np.ndarray]
    rejects: list[Reject]
    alert_ids_of_rejects: dict[int, str]
    duplicates: int
    unknown_enum: int
    duplicate_index: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    duplicate_event_ms: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def _reject_where(
    decoded: DecodedBatch,
    bad: np.ndarray,
    reason: Reason,
    detail: str,
    out: list[Reject],
    ids: dict[int, str],
) -> DecodedBatch:
    if not bad.any():  # the common case: no copy of every column
        return decoded
    slots, source_ids = decoded.index[bad].tolist(), decoded.source_id[bad].tolist()
    for slot, source_id in zip(slots, source_ids, strict=True):
        out.append(Reject(slot, reason, detail))
        ids[slot] = f"{decoded.source}:{source_id}"
    return decoded.take(~bad)


def _place_grid_only(decoded: DecodedBatch, registry: AdminRegistry, rejects, ids) -> DecodedBatch:
    """Grid reports without coordinates sit at their cell's centroid; unknown cells are rejected."""
    missing = np.isnan(decoded.lat) | np.isnan(decoded.lon)
    if not missing.any():
        return decoded
    codes = decoded.columns["grid_code"][missing]
    cell = registry.grid_index_of(np.array([c or "" for c in codes], dtype=object))
    decoded.lat[np.flatnonzero(missing)[cell >= 0]] = registry.grid_centroid_lat[cell[cell >= 0]]
    decoded.lon[np.flatnonzero(missing)[cell >= 0]] = registry.grid_centroid_lon[cell[cell >= 0]]
    unknown = np.zeros(len(decoded), dtype=bool)
    unknown[np.flatnonzero(missing)[cell < 0]] = True
    return _reject_where(
        decoded,
        unknown,
        Reason.UNKNOWN_GRID_CODE,
        "no lat/lon and grid_code is absent or not in the admin registry",
        rejects,
        ids,
    )


def _severity(decoded: DecodedBatch) -> np.ndarray:
    weight = SEVERITY[SOURCE_CODE[decoded.source], decoded.category]
    if decoded.source == "dispatch_110":
        weight = weight * PRIORITY_FACTOR[decoded.columns["priority"].astype(np.int64)]
    elif decoded.source == "camera":
        weight = weight * decoded.columns["confidence"].astype(np.float32)
    elif decoded.source == "grid_report":
        weight = np.where(decoded.columns["status"] == "reported", weight, 0.0)
    return weight.astype(np.float32)


def _extras(decoded: DecodedBatch, ctx: NormalizeContext) -> dict[str, np.ndarray]:
    spec = FEEDS[decoded.source]
    extras = {name: decoded.columns[name] for name in spec.passthrough}
    for name in spec.personal:
        extras[name] = ctx.pseudonymizer.pseudonymize(
            name, decoded.columns[name], phone=name.endswith("phone")
        )
    return extras


def normalize(
    source: str,
    values: list[bytes],
    ctx: NormalizeContext,
    clock_ms: np.ndarray | None = None,
    decoded: DecodedBatch | None = None,
    remember: bool = True,
    origin: np.ndarray | None = None,
) -> NormalizedBatch:
    """Normalise one batch of raw values from feed ``source``.

    Event times are judged against ``ctx.clock_ms()``, or, given ``clock_ms`` (int64, one per
    value), each value against its own worker clock: a backfill judges a whole file at once as
    the live worker judged each record when it arrived. ``decoded``: the values already decoded
    (what :func:`~pipeline.feeds.decode.decode_batch` gives of them, e.g. from typed replay
    columns); ``values`` are then not read. With ``remember=False`` the batch's alerts are not
    recorded as seen: the caller does it (``ctx.dedupe.remember``) once the batch is delivered,
    so that a batch which fails downstream and is retried is not dropped as duplicates.
    ``origin`` (int64, one per value): each value's feed partition (:mod:`pipeline.marks`);
    duplicates are then dropped per origin (:mod:`pipeline.dedupe`).
    """
    if decoded is None:
        decoded = decode_batch(FEEDS[source], values, ctx.decoder(source))
    rejects = list(decoded.rejects)
    ids: dict[int, str] = {}
    if source in ctx.gcj02_feeds:
        decoded.lat, decoded.lon = gcj02_to_wgs84(decoded.lat, decoded.lon)
    if FEEDS[source].optional_coords:
        decoded = _place_grid_only(decoded, ctx.registry, rejects, ids)

    wall = ctx.clock_ms() if clock_ms is None else 0

    def now() -> np.ndarray | int:  # the clock of each row still in ``decoded``
        return wall if clock_ms is None else clock_ms[decoded.index]

    decoded = _reject_where(
        decoded,
        decoded.event_ms > now() + ctx.max_future_ms,
        Reason.FUTURE_TIME,
        f"event time more than {ctx.max_future_ms / 1000:.0f} s ahead of the worker clock",
        rejects,
        ids,
    )
    if ctx.max_age_ms:
        decoded = _reject_where(
            decoded,
            decoded.event_ms < now() - ctx.max_age_ms,
            Reason.STALE_TIME,
            f"event time more than {ctx.max_age_ms / 1000:.0f} s behind the worker clock",
            rejects,
            ids,
        )
    decoded = _reject_where(
        decoded,
        ~ctx.area.contains(decoded.lat, decoded.lon),
        Reason.OUT_OF_AREA,
        "coordinates outside the configured area",
        rejects,
        ids,
    )

    alert_id = np.array(list(map(f"{source}:".__add__, decoded.source_id.tolist())), object)
    row_origin = None if origin is None else np.asarray(origin, np.int64)[decoded.index]
    fresh = ctx.dedupe.unseen(alert_id, row_origin)
    duplicates = int(len(fresh) - np.count_nonzero(fresh))
    duplicate_index = duplicate_event_ms = np.empty(0, np.int64)
    if duplicates:
        duplicate_index, duplicate_event_ms = decoded.index[~fresh], decoded.event_ms[~fresh]
        decoded, alert_id = decoded.take(fresh), alert_id[fresh]
        row_origin = None if row_origin is None else row_origin[fresh]

    alerts = AlertBatch(
        alert_id=alert_id,
        source=np.full(len(decoded), SOURCE_CODE[source], dtype=np.int8),
        event_ms=decoded.event_ms,
        lat=decoded.lat,
        lon=decoded.lon,
        category=decoded.category,
        severity=_severity(decoded),
        grid=ctx.registry.locate(decoded.lat, decoded.lon),
    )
    rejects.sort(key=lambda r: r.index)
    extras = _extras(decoded, ctx)
    if remember:  # last: if anything above raised, a retry must not see these as duplicates
        ctx.dedupe.remember(alert_id, decoded.event_ms, row_origin)
    return NormalizedBatch(
        source=source,
        alerts=alerts,
        source_id=decoded.source_id,
        index=decoded.index,
        extras=extras,
        rejects=rejects,
        alert_ids_of_rejects=ids,
        duplicates=duplicates,
        unknown_enum=decoded.unknown_enum,
        duplicate_index=np.asarray(duplicate_index, np.int64),
        duplicate_event_ms=np.asarray(duplicate_event_ms, np.int64),
    )


def normalize_each(
    source: str,
    values: list[bytes],
    ctx: NormalizeContext,
    clock_ms: np.ndarray | None = None,
    remember: bool = True,
    origin: np.ndarray | None = None,
) -> NormalizedBatch:
    """Normalise value by value: the fallback when :func:`normalize` raised on a whole batch.

    That is a bug, not bad input, but one message must not stop the worker: every value that
    still fails on its own becomes an ``internal_error`` dead letter (original bytes sealed),
    and all the others go through. Slow, and only ever run on a batch that failed. With
    ``remember=False`` a repeat of an id inside the batch is not dropped here (each value is
    judged alone); downstream is idempotent on ``alert_id``.
    """
    parts: list[tuple[int, NormalizedBatch]] = []
    failed: list[Reject] = []
    for slot, value in enumerate(values):
        try:
            clock = None if clock_ms is None else clock_ms[slot : slot + 1]
            one = None if origin is None else origin[slot : slot + 1]
            parts.append(
                (slot, normalize(source, [value], ctx, clock, remember=remember, origin=one))
            )
        except Exception as exc:  # noqa: BLE001 - isolating an unknown failure is the point
            # the exception's text may quote the value, which may be personal data
            failed.append(Reject(slot, Reason.INTERNAL_ERROR, f"{type(exc).__name__}; see log"))
    extras_keys = parts[0][1].extras.keys() if parts else ()
    return NormalizedBatch(
        source=source,
        alerts=AlertBatch.concat([p.alerts for _, p in parts]),
        source_id=np.concatenate([p.source_id for _, p in parts] or [np.empty(0, object)]),
        index=np.concatenate([p.index + slot for slot, p in parts] or [np.empty(0, np.int64)]),
        extras={k: np.concatenate([p.extras[k] for _, p in parts]) for k in extras_keys},
        rejects=sorted(
            [Reject(r.index + slot, r.reason, r.detail) for slot, p in parts for r in p.rejects]
            + failed,
            key=lambda r: r.index,
        ),
        alert_ids_of_rejects={
            i + slot: alert_id
            for slot, p in parts
            for i, alert_id in p.alert_ids_of_rejects.items()
        },
        duplicates=sum(p.duplicates for _, p in parts),
        unknown_enum=sum(p.unknown_enum for _, p in parts),
        duplicate_index=np.concatenate(
            [p.duplicate_index + slot for slot, p in parts] or [np.empty(0, np.int64)]
        ),
        duplicate_event_ms=np.concatenate(
            [p.duplicate_event_ms for _, p in parts] or [np.empty(0, np.int64)]
        ),
    )
