"""Detection quality of the pipeline on a simulated run with ground truth: ``hotspot evaluate``
and ``benchmarks/detection_quality.py``.

The run is backfilled into memory, exactly as ``hotspot backfill`` would store it (the same
settings, partitions, clock and flush), and its flags are scored against the hotspots the
simulator planted (:func:`~pipeline.correlate.flags.evaluation.evaluate_detection`), with the
stored alerts (for the delay after each hotspot's third alert) and the cell tests the scan made
(for the false-flag rate the opening threshold claims, :func:`claimed_p`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

from .backfill.files import backfill_to_memory
from .backfill.fit import fit_replay
from .correlate import Baseline, CorrelationParams
from .correlate.baseline.store import prior_baseline
from .correlate.flags.evaluation import DetectionReport, PlantedHotspot, evaluate_detection
from .correlate.scan.test_rate import city_params
from .geo.admin_units import AdminRegistry, load_registry
from .routing import city_projection
from .settings import Settings

__all__ = ["claimed_p", "evaluate_replay", "evaluate_run", "planted_hotspots"]


def claimed_p(params: CorrelationParams) -> float:
    """The p-value a flag may open at, as the thresholds state it: ``score >= open_score``
    is ``p <= 10**-open_score`` for one feed at mean severity 0.5 (corroboration and severity
    raise the score, so a corroborated cell opens at a larger p: the claim is the single-feed
    one), and ``min_recurrence_days`` bounds p for every flag. Times the cell tests made, it is
    the number of chance flags the thresholds claim. Pass the city's thresholds
    (:func:`~pipeline.correlate.scan.test_rate.city_params`) for what a run really used."""
    return min(10.0**-params.open_score, params.open_p_max)


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
    settings: Settings,
    registry: AdminRegistry,
    replay: Path,
    truth: Path,
    baseline: Callable[[], Baseline],
) -> DetectionReport:
    """The detection report of ``replay`` with its ground truth ``truth``; ``baseline`` makes
    each partition correlator's baseline."""
    sink, report = backfill_to_memory(
        settings, registry, [Path(replay)], baseline, keep_alerts=True
    )
    facts = json.loads(Path(truth).read_text())
    width, height = facts["city"]["size_m"]
    alerts = sink.stored_alerts()
    counted = alerts.severity > 0
    return evaluate_detection(
        sink.flags,
        planted_hotspots(facts),
        city_projection(registry),
        area_km2=width * height / 1e6,
        span_ms=round(facts["config"]["duration"] * 1000),
        alerts=(alerts.event_ms[counted], alerts.lat[counted], alerts.lon[counted]),
        cell_tests=report.cell_tests,
        # the thresholds the correlators used: the city's, from its baseline (scan.test_rate)
        claimed_p=claimed_p(city_params(settings.correlation, baseline())),
    )


def evaluate_replay(
    settings: Settings,
    replay: Path,
    truth: Path,
    registry: Path,
    history_replay: Path | None = None,
) -> DetectionReport:
    """Recall, median time to first flag and false flags per 10 km² per day of a simulated
    run against its ground truth.

    With ``history_replay`` (an earlier period of the same city) the baseline is fitted on
    the whole local days it covers, as ``hotspot baseline fit`` fits them; otherwise the run
    starts from the settings' prior, learning from the stream as a fresh deployment would.
    """
    reg = load_registry(registry)
    baseline = partial(prior_baseline, settings)
    if history_replay is not None:
        baseline = fit_replay(settings, reg, [Path(history_replay)])[0].baseline
    return evaluate_run(settings, reg, replay, truth, baseline)
