"""The warm-up drives a throwaway correlator through every step a real batch takes."""

from __future__ import annotations

from pipeline.correlate import Correlator
from pipeline.correlate.baseline.store import prior_baseline
from pipeline.correlate.warm_up import warm_up
from pipeline.geo.projection import LocalProjection
from pipeline.settings import Settings


def test_the_synthetic_hotspot_opens_and_closes_a_flag_and_an_incident():
    settings = Settings()
    correlator = Correlator(
        settings.correlation, LocalProjection(30.3, 120.1), prior_baseline(settings), 8
    )
    warm_up(correlator)
    stats = correlator.stats
    assert stats["incidents"] >= 1 and stats["flag_events"] >= 2, stats  # opened and closed
    assert stats["duplicates"] == 1 and stats["late"] == 0
    assert correlator.open_flags == 0, "every window was closed"
