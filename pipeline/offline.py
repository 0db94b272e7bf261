"""Offline correlation: a replay file through the real normalise stage and the Correlator.

No Kafka: records are read from a JSON Lines replay (as written by :mod:`pipeline.sim`), grouped
into batches of consecutive records of one feed (what a Faust agent takes from one topic), and
normalised with a clock that reads the replay's arrival time, so future- and past-time faults
are rejected exactly as a live worker would have rejected them. The normalised alerts go to one
:class:`~pipeline.correlate.Correlator`; at the end its watermark is advanced past the last
event to flush every window and incident. Results do not depend on ``batch_size`` (the engine
guarantees it for any cut of the same arrival order).

This is the core of a backfill; :mod:`pipeline.correlate.history` fits baselines with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec
import numpy as np

from pipeline.alerts import SOURCES, AlertBatch
from pipeline.correlate import Baseline, CorrelationParams, Correlator, FlagEvent, Incident
from pipeline.correlate.baseline.history import (
    CellHourBaseline,
    counted_events,
    estimate_dispersion,
    fit_cell_hours,
    fit_disks,
)
from pipeline.correlate.flags.evaluation import DetectionReport, PlantedHotspot, evaluate_detection
from pipeline.correlate.lattice import Lattice
from pipeline.dedupe import DedupeIndex
from pipeline.exceptions import ReplayFileError
from pipeline.geo.admin_units import AdminRegistry, load_registry
from pipeline.geo.projection import LocalProjection
from pipeline.normalize import NormalizeContext, normalize, registry_area
from pipeline.privacy import Pseudonymizer
from pipeline.replay.jsonl import ReplayRecord

__all__ = [
    "OfflineResult",
    "evaluate_replay",
    "evaluate_run",
    "planted_hotspots",
    "fit_history_baseline",
    "replay_alerts",
    "StampedRecord",
    "read_stamped",
    "normalized_batches",
    "offline_context",
    "registry_projection",
    "run_offline",
]

#: Settings' defaults: a day of dedupe horizon, a week of accepted age, 10 min of clock skew.
_DEDUPE_HORIZON_MS = 86_400_000
_MAX_AGE_MS = 7 * 86_400_000
_MAX_FUTURE_MS = 600_000
# Pseudonyms never reach the correlator; a fixed key keeps offline runs reproducible.
_OFFLINE_KEY = b"offline-replay-pseudonym-key"
# Counted alerts per hour per km² a fresh deployment assumes until it has learnt (about the
# synthetic city's mean at scale 1).
_FALLBACK_RATE_KM2_H = 2.0
_TOPIC_SOURCE = {f"alerts.{s}": s for s in SOURCES}


@dataclass(frozen=True, slots=True)
class StampedRecord:
    """A replay record with its arrival time (the Kafka record timestamp, epoch ms)."""

    record: ReplayRecord
    ts: int | None


class _Line(msgspec.Struct):
    topic: str
    value: msgspec.Raw
    key: str | None = None
    ts: int | None = None
    raw: bool = False


def read_stamped(path: Path) -> Iterator[StampedRecord]:
    """Records of a replay file with their ``ts`` (None when a line has none).

    Same format and rules as :func:`pipeline.replay.read_jsonl` (which drops ``ts``); broken
    lines are skipped, as a consumer skips what it cannot read.
    """
    if not path.exists():
        raise ReplayFileError(f"replay file {path} does not exist")
    decoder = msgspec.json.Decoder(_Line)
    text = msgspec.json.Decoder(str)
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                p = decoder.decode(line)
                value = text.decode(p.value).encode() if p.raw else bytes(p.value)
            except (msgspec.DecodeError, UnicodeDecodeError):
                continue
            key = p.key.encode() if p.key is not None else None
            yield StampedRecord(ReplayRecord(p.topic, key, value), p.ts)


def _feed_runs(
    records: Iterator[StampedRecord], batch_size: int
) -> Iterator[tuple[str, list[StampedRecord]]]:
    """Consecutive records of one feed topic, at most ``batch_size`` each; others skipped."""
    topic, run = None, []
    for r in records:
        if r.record.topic not in _TOPIC_SOURCE:
            continue
        if run and (r.record.topic != topic or len(run) >= batch_size):
            yield _TOPIC_SOURCE[topic], run
            run = []
        topic = r.record.topic
        run.append(r)
    if run:
        yield _TOPIC_SOURCE[topic], run


class _ReplayClock:
    """The worker clock of an offline run: the arrival time of the newest record taken.

    Lines without ``ts`` fall back to the newest accepted event time, which is what a live
    worker's clock is close to when its feeds are on time.
    """

    def __init__(self) -> None:
        self.now_ms = np.iinfo(np.int64).min

    def take(self, run: list[StampedRecord]) -> None:
        stamps = [r.ts for r in run if r.ts is not None]
        if stamps:
            self.now_ms = max(self.now_ms, max(stamps))

    def accepted(self, alerts: AlertBatch) -> None:
        if len(alerts) and self.now_ms == np.iinfo(np.int64).min:
            self.now_ms = int(alerts.event_ms.max())

    def __call__(self) -> int:
        # Before any time is known nothing can be judged too new: accept, like max_age 0.
        return self.now_ms if self.now_ms != np.iinfo(np.int64).min else 2**62


def offline_context(registry: AdminRegistry, clock_ms: Callable[[], int]) -> NormalizeContext:
    """A normalise context with the settings' defaults and the given clock."""
    return NormalizeContext(
        registry=registry,
        area=registry_area(registry, 2000.0),
        dedupe=DedupeIndex(_DEDUPE_HORIZON_MS),
        pseudonymizer=Pseudonymizer(_OFFLINE_KEY),
        max_future_ms=_MAX_FUTURE_MS,
        max_age_ms=_MAX_AGE_MS,
        clock_ms=clock_ms,
    )


def normalized_batches(
    replay: Path, registry: AdminRegistry, batch_size: int = 5000
) -> Iterator[AlertBatch]:
    """Normalised alerts of a replay, one batch per run of consecutive same-feed records."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    clock = _ReplayClock()
    ctx = offline_context(registry, clock)
    for source, run in _feed_runs(read_stamped(Path(replay)), batch_size):
        clock.take(run)
        out = normalize(source, [r.record.value for r in run], ctx)
        clock.accepted(out.alerts)
        yield out.alerts


def registry_projection(registry: AdminRegistry) -> LocalProjection:
    """The local projection centred on the registry's extent (the city's projection)."""
    min_lat, min_lon, max_lat, max_lon = registry.bbox
    return LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)


@dataclass(slots=True)
class OfflineResult:
    """What an offline run produced: alerts admitted, late ones, incidents and flag events."""

    alerts: int = 0
    late: int = 0
    duplicates: int = 0
    incidents: list[Incident] = field(default_factory=list)
    flags: list[FlagEvent] = field(default_factory=list)

    def add(self, incidents: list[Incident], flags: list[FlagEvent]) -> None:
        self.incidents += incidents
        self.flags += flags


def run_offline(
    replay: Path,
    registry: AdminRegistry | Path,
    baseline: Baseline,
    params: CorrelationParams | None = None,
    *,
    batch_size: int = 5000,
) -> OfflineResult:
    """Correlate a whole replay in process and flush; see the module docstring."""
    params = params or CorrelationParams()
    reg = registry if isinstance(registry, AdminRegistry) else load_registry(registry)
    engine = Correlator(params, registry_projection(reg), baseline)
    result = OfflineResult()
    last_ms = None
    for alerts in normalized_batches(Path(replay), reg, batch_size):
        out = engine.process(alerts)
        result.add(out.incidents, out.flags)
        if len(alerts):
            newest = int(alerts.event_ms.max())
            last_ms = newest if last_ms is None else max(last_ms, newest)
    if last_ms is not None:
        # Past every window, incident gap and the lateness: everything is final and emitted.
        flush = params.window_ms + params.incident_gap_ms + params.lateness_ms + params.slide_ms
        out = engine.advance_to(last_ms + flush)
        result.add(out.incidents, out.flags)
    result.alerts = engine.stats["alerts"]
    result.late = engine.stats["late"]
    result.duplicates = engine.stats["duplicates"]
    return result


def replay_alerts(replay: Path, registry: AdminRegistry, batch_size: int = 5000) -> AlertBatch:
    """Every normalised alert of a replay, in arrival order, as one batch."""
    return AlertBatch.concat(list(normalized_batches(replay, registry, batch_size)))


def fit_history_baseline(
    history: Path,
    registry: AdminRegistry,
    params: CorrelationParams | None = None,
    **fit_kwargs,
) -> CellHourBaseline:
    """A :class:`CellHourBaseline` fitted on a history replay of the same city (whole local
    days from its first event), with its dispersion estimated out of sample."""
    params = params or CorrelationParams()
    alerts = replay_alerts(Path(history), registry)
    rows = counted_events(alerts, registry_projection(registry), params)
    start, end = _whole_days(rows["event_ms"], params.utc_offset_min)
    inside = (rows["event_ms"] >= start) & (rows["event_ms"] < end)
    rows = {k: v[inside] for k, v in rows.items()}
    lattice = Lattice(params.cell_m)
    alpha = estimate_dispersion(rows, start, end, lattice, params, **fit_kwargs)
    ix, iy = lattice.index(rows["x"], rows["y"])
    cells = fit_cell_hours(
        lattice.cell_id(ix, iy),
        rows["event_ms"],
        start,
        end,
        lattice.cell_km2,
        utc_offset_min=params.utc_offset_min,
        dispersion=alpha,
        **fit_kwargs,
    )
    cells.disks = fit_disks(
        rows["x"],
        rows["y"],
        rows["event_ms"],
        start,
        end,
        lattice,
        params.radii_m,
        utc_offset_min=params.utc_offset_min,
        **fit_kwargs,
    )
    return cells


def _whole_days(event_ms: np.ndarray, utc_offset_min: int) -> tuple[int, int]:
    """The longest span of whole local days covered by the events (late and early strays are
    cut, so no partial day biases an hour's exposure)."""
    day, off = 86_400_000, utc_offset_min * 60_000
    lo, hi = np.quantile(event_ms, [0.0001, 0.9999]).astype(np.int64)
    start = -((-(int(lo) + off)) // day) * day - off
    end = ((int(hi) + off) // day) * day - off
    if end <= start:
        raise ValueError("history replay must cover at least one whole local day")
    return start, end


def planted_hotspots(truth: dict) -> list[PlantedHotspot]:
    """The planted hotspots of a simulation's ground truth (``truth.json``)."""
    return [
        PlantedHotspot(
            lat=h["lat"],
            lon=h["lon"],
            radius_m=h["radius_m"],
            start_ms=round(datetime.fromisoformat(h["start"]).timestamp() * 1000),
            end_ms=round(datetime.fromisoformat(h["end"]).timestamp() * 1000),
            multiplier=h["multiplier"],
        )
        for h in truth["hotspots"]
    ]


def evaluate_run(
    replay: Path,
    truth: Path,
    registry: AdminRegistry,
    baseline: Baseline,
    params: CorrelationParams | None = None,
) -> DetectionReport:
    """:func:`evaluate_replay` with an already loaded registry and fitted baseline."""
    params = params or CorrelationParams()
    result = run_offline(Path(replay), registry, baseline, params)
    facts = json.loads(Path(truth).read_text())
    width, height = facts["city"]["size_m"]
    return evaluate_detection(
        result.flags,
        planted_hotspots(facts),
        registry_projection(registry),
        area_km2=width * height / 1e6,
        span_ms=round(facts["config"]["duration"] * 1000),
    )


def evaluate_replay(
    replay: Path,
    truth: Path,
    registry: Path,
    history_replay: Path | None = None,
    params: CorrelationParams | None = None,
) -> DetectionReport:
    """Detection quality of the engine on a simulated run: recall, median time to first flag
    and false flags per 10 km² per day against the run's ground truth.

    The baseline is fitted on ``history_replay`` (a previous period of the same city) when
    given; otherwise it is the city-wide fallback at a fixed prior rate, learning from the
    stream as a fresh deployment would.
    """
    params = params or CorrelationParams()
    reg = load_registry(registry)
    if history_replay is not None:
        baseline: Baseline = fit_history_baseline(Path(history_replay), reg, params)
    else:
        baseline = Baseline(Lattice(params.cell_m).cell_km2, _FALLBACK_RATE_KM2_H)
    return evaluate_run(replay, truth, reg, baseline, params)
