"""The worker's own account of itself at the default log level: a line per interval (alerts
in, dead letters, flags, lag) and a summary when it stops.

It reads the worker's Prometheus counters from a thread of its own (the collectors are
thread-safe), so the worker's event loop does nothing for it, and what it prints is exactly
what ``/metrics`` says.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from pipeline.metrics import Metrics

__all__ = ["Heartbeat", "Totals", "totals"]

log = logging.getLogger("hotspot.worker")


@dataclass(frozen=True, slots=True)
class Totals:
    received: float = 0.0  # raw messages taken from the feeds
    alerts: float = 0.0  # alerts published to alerts.normalized
    deadletters: float = 0.0
    duplicates: float = 0.0
    flags: float = 0.0  # flag versions published
    incidents: float = 0.0
    lag: float = 0.0  # messages of held input partitions not yet processed and committed


_SAMPLES = {
    "hotspot_received_total": "received",
    "hotspot_normalized_total": "alerts",
    "hotspot_deadlettered_total": "deadletters",
    "hotspot_duplicates_total": "duplicates",
    "hotspot_flag_events_total": "flags",
    "hotspot_incidents_total": "incidents",
    "hotspot_consumer_lag": "lag",
}


def totals(metrics: Metrics) -> Totals:
    """The counters summed over their labels (feeds, reasons, partitions)."""
    sums = dict.fromkeys(_SAMPLES.values(), 0.0)
    for family in metrics.registry.collect():
        for sample in family.samples:
            field = _SAMPLES.get(sample.name)
            if field is not None:
                sums[field] += sample.value
    return Totals(**sums)


class Heartbeat:
    """``with Heartbeat(metrics, every_s):`` logs a line every ``every_s`` and a summary at
    the end of the block."""

    def __init__(self, metrics: Metrics, every_s: float) -> None:
        self._metrics = metrics
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._began = time.monotonic()

    def __enter__(self) -> Heartbeat:
        self._began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        t = totals(self._metrics)
        log.info(
            "stopped after %.0f s: %s messages in, %s alerts, %s dead letters, %s duplicates, "
            "%s incidents, %s flag versions",
            time.monotonic() - self._began,
            *(f"{v:,.0f}" for v in (t.received, t.alerts, t.deadletters, t.duplicates)),
            *(f"{v:,.0f}" for v in (t.incidents, t.flags)),
        )

    def _run(self) -> None:
        before = totals(self._metrics)
        while not self._stop.wait(self._every_s):
            now = totals(self._metrics)
            log.info(
                "last %.0f s: %s messages in, %s alerts, %s dead letters, %s flag versions; "
                "lag %s messages",
                self._every_s,
                *(f"{v:,.0f}" for v in _delta(now, before)),
                f"{now.lag:,.0f}",
            )
            before = now


def _delta(now: Totals, before: Totals) -> tuple[float, ...]:
    return (
        now.received - before.received,
        now.alerts - before.alerts,
        now.deadletters - before.deadletters,
        now.flags - before.flags,
    )
