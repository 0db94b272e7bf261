"""Every parameter of the correlation engine, in one frozen object the settings embed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .exceptions import CorrelationError

__all__ = [
    "CorrelationParams",
    "EARLIER_DEFAULTS",
    "MAX_RECURRENCE_DAYS",
    "OPEN_P_CEILING",
    "RESTORE_ADOPTS",
]

#: a million years: "never by chance", finite so it encodes in JSON and ClickHouse
MAX_RECURRENCE_DAYS = 3.65e8
#: The largest p-value a flag opens at under ``min_recurrence_days``, whatever the city's
#: number of tests (:mod:`pipeline.correlate.scan.test_rate`): below 1, so a count at
#: ``min_count`` (conditional p-value exactly 1) never opens one and calm boundaries stay
#: unable to open flags; 0.05, so no flag opens on a count one test alone calls ordinary.
OPEN_P_CEILING = 0.05

#: Settings whose default changed after they were added, with the value they had before
#: (issue 23: 2026-12-07 and 2026-12-08; JSON values, as in a checkpoint's header). A
#: checkpoint that does not name one was taken under that value.
EARLIER_DEFAULTS: dict[str, object] = {
    "corroboration_min_events": 1,
    "merge_apart_m": 0.0,
    "open_score": 3.0,
    "window_weight_ratio": 1.0,
}

#: Settings a restore adopts when the checkpoint was taken under another value: they only
#: decide how cells score and which open a flag at the boundaries to come, and a checkpoint's
#: state (window, counts, open flags, baseline) is the same under any of their values.
#: Refusing would rebuild the partition from its retained input and re-emit its past flags
#: under the new rule, days of them after an upgrade. Those whose defaults changed on
#: 2026-12-07 and 2026-12-08.
RESTORE_ADOPTS = frozenset(
    {"corroboration_min_events", "merge_apart_m", "open_score", "window_weight_ratio"}
)


@dataclass(frozen=True, slots=True)
class CorrelationParams:
    """Parameters of :class:`pipeline.correlate.engine.Correlator`; units are in the names.

    A checkpoint written before a setting existed restores as if taken under the setting's
    earlier behaviour (``Correlator.restore``): its default, or, where the default has changed
    since, the value in ``EARLIER_DEFAULTS``. A new setting that has no earlier behaviour bumps
    the engine's snapshot format instead. A checkpoint taken under other values is refused,
    except for the settings in ``RESTORE_ADOPTS``.

    Windows (event time)
        ``window_s`` (1800 s = 30 min): length of the sliding window scored at each boundary.
        ``slide_s`` (60 s): distance between boundaries; boundaries are multiples of it since
        the epoch. ``lateness_s`` (120 s): allowed lateness; watermark = max event time seen
        minus this, and an alert older than the watermark on arrival is returned as late.

    Incidents
        ``incident_radius_m`` (150 m) and ``incident_gap_s`` (600 s = 10 min): two alerts at
        most this far apart in space *and* time are linked; incidents are the connected
        components.

    Bursts
        ``burst_radius_m`` (50 m) and ``burst_gap_s`` (30 s): an alert with an earlier alert
        of the same source and category this close in space and time is a repeat and does not
        count for hotspot scoring, so a camera re-firing at one object is one event, not a
        hotspot (see :mod:`pipeline.correlate.window.bursts`). Camera re-fires come seconds apart;
        a longer gap also swallows distinct events at one busy camera (at one a minute, a
        120 s gap counted about e^-2 = 14 % of them), which hid surges there.

    Hotspots
        ``cell_m`` (250 m): side of the square scoring lattice on the local projection.
        ``hotspot_radius_m`` (500 m): the reference disk of the baseline's dispersion fit (over
        ``window_s``) and of the Getis-Ord statistic; every scoring radius is at most this.
        ``windows_s`` ((300, 600, 1800) s = 5, 10, 30 min) and ``radii_m`` ((250.0, 500.0) m):
        the scales of the multi-scale scan. At each boundary every tested cell is scored for
        every (window, radius) pair: alerts of the last ``window`` seconds within ``radius``
        of the cell centre, against the baseline scaled to that window length and disk area.
        Each cell keeps its most significant scale, and a flag reports it (``window_s``,
        ``radius_m``). Strictly increasing, windows positive multiples of ``slide_s`` and at
        most ``window_s`` (the retention), radii positive and at most ``hotspot_radius_m``.
        ``bh_q`` (0.3): false discovery rate at one boundary. Only scales holding at least
        ``min_count`` alerts are tested, each given that it reached ``min_count``; a cell's
        p-value is its best tested scale's, corrected for the scales tested there by a
        weighted Bonferroni (below), then Benjamini-Hochberg runs across the cells tested at
        the boundary.
        ``window_weight_ratio`` (2.0): each window's weight in its cell's Bonferroni correction
        is this many times the next longer window's, (4, 2, 1) for the default windows; 1
        weighs them equally, the plain Bonferroni used before 2026-12-08. A scale has its
        window's weight, and its p-value is multiplied by the summed weight of the scales
        tested at the cell over its own: under the null the cell's p-value keeps Bonferroni's
        bound whatever the weights, and the most significant scale is the one with the
        smallest product. A hotspot is first seen in the short windows, while chance clusters
        build up mostly in the long ones: on the dense benchmark city, 7 of 14 flags near
        planted hotspots opened at 5 min and 8 of 54 chance flags did (docs/detection.md,
        "Weights across windows"). With the score bar at 2.8 the dense cities' targets are
        met over three planted days (over six, city 1's median is 5.3 min); 3 was the bar
        before the weights.
        ``open_score`` (2.8) / ``close_score`` (2.0): score thresholds to open a flag and to
        start counting towards closing it. ``close_after_slides`` (3): consecutive boundaries
        below ``close_score`` that close a flag (hysteresis). ``min_count`` (2): fewest
        counted alerts in the disk (at the cell's scale) for a scale to be tested and a flag
        to open. ``burst_gap_s``, ``bh_q`` and ``min_count`` were chosen together on
        benchmarks/detection_quality.py (see benchmarks/README.md, "Detection quality").
        ``min_rate_ratio`` (2.0): the observed count must also be at least this multiple of the
        expected one, so a large area with a slightly wrong baseline cannot open flags on
        sheer volume.
        ``corroboration_gain`` (0.5): each distinct source beyond the first multiplies the
        score by ``1 + gain`` more (see :mod:`pipeline.correlate.scan.scoring`).
        ``corroboration_min_events`` (2): the events a source must hold in the disk (at the
        cell's scale) to count as corroboration in the score. With 1, a lone alert of a second
        feed among a dozen camera alerts (there by chance about half the time in a dense
        city) raised the score by half, and chance flags ran at 1.30-1.47 times what the bars
        claim; with 2, at 0.79-0.96 (docs/detection.md).
        ``merge_radius_m`` (1000 m = 2 x hotspot radius): a hot cell this close to an open
        flag's cell feeds that flag instead of opening its own. Disks closer than twice their
        radius share alerts, so one compact hotspot lights up cells up to about that far apart.
        ``merge_apart_m`` (500 m): a hot cell within ``merge_radius_m`` of an open flag's
        cell but farther than this from it opens its own flag when it scores higher than that
        flag's cell at the boundary: a second cluster beside an older flag is not masked by
        it, while a hotspot's fringe cells, which score below its own cell, still feed its
        flag (:mod:`pipeline.correlate.flags.suppression`). 0 turns the exemption off.
        ``merge_tile_m`` (4000 m): merging stays inside the routing tiles of this side (the
        settings set it to their ``tile_m``): a partition holds whole tiles, so which cell of a
        tile opens a flag never depends on how many partitions the city is split into; a
        hotspot straddling a tile edge may give a flag on each side.
        ``update_score_delta`` (1.0): an open flag emits an ``update`` when its counts change
        or its score moved at least this much since the last event.

    Recurrence interval and multiple testing over time (issue 23)
        ``cell_tests_per_day`` (1.8e4): *effective* cell tests the scan makes a day in the
        reference city (the detection benchmark's; with a fitted baseline and
        ``tests_from_baseline`` each city gets its own figure, see below). A cell test counts
        only where it is new (an event entered the cell in the last slide; re-testing the
        same events every minute is no new chance,
        :mod:`pipeline.correlate.scan.new_tests`), times ``EFFECTIVE_PER_NEW_TEST`` (1/4, the
        dependence of a cell's six nested scales and the discreteness of counts, measured on
        quiet days; :mod:`pipeline.correlate.scan.tally`). Not a live count, so a
        flag's figures do not depend on batch boundaries, restarts or the partition count.
        ``hotspot evaluate`` prints a run's figure: about 71,000 new tests a day, 17,700
        effective, on the detection benchmark's 432 km² city. Every flag reports
        ``recurrence_days = 1 / (p_value x tests a day)``: how long one would wait to
        see a cluster this strong by chance anywhere in the city.
        ``min_recurrence_days`` (see README, "Multiple testing over time", for the figures
        behind the default): a flag opens only where its recurrence interval is at least this,
        i.e. ``p_value <= 1 / (min_recurrence_days x tests a day)``, and only at a new
        test of its cell. The bar then stands in for Benjamini-Hochberg (``bh_q``), whose
        family, the cells one partition tests at one boundary, depends on how many partitions
        the city is split into. 0 turns the bar off (Benjamini-Hochberg again, on every test).
        ``tests_from_baseline`` (True): with a fitted baseline, each correlator replaces
        ``cell_tests_per_day`` by the city's own figure estimated from the baseline, and shifts
        ``open_score`` and ``close_score`` by ``log10(city / cell_tests_per_day)``
        (:mod:`pipeline.correlate.scan.test_rate`); ``cell_tests_per_day`` is then the
        reference the score bars were chosen for (and the figure of a baseline without a
        fitted table). A sparse city makes about 0.2 effective tests a day; with the
        reference bars a 3-alert cluster within 250 m could not open a flag there.
        ``open_p_max`` never exceeds ``OPEN_P_CEILING`` (0.05).

    Baseline and calendar
        ``utc_offset_min`` (480, China Standard Time, no DST): local time for hour-of-week.
        ``fill_unseen_hours`` (False: today's fits): a fitted baseline's hours of week that the
        history never saw (7 days cut to whole local days miss one weekday) take the
        hour-of-day shape instead of a flat rate (:func:`.baseline.history._weekday`); the
        held-out days of the dispersion estimate too.
    """

    window_s: int = 1800
    slide_s: int = 60
    lateness_s: int = 120
    incident_radius_m: float = 150.0
    incident_gap_s: int = 600
    burst_radius_m: float = 50.0
    burst_gap_s: int = 30
    cell_m: float = 250.0
    hotspot_radius_m: float = 500.0
    windows_s: tuple[int, ...] = (300, 600, 1800)
    radii_m: tuple[float, ...] = (250.0, 500.0)
    bh_q: float = 0.3
    open_score: float = 2.8
    close_score: float = 2.0
    close_after_slides: int = 3
    min_count: int = 2
    min_rate_ratio: float = 2.0
    corroboration_gain: float = 0.5
    corroboration_min_events: int = 2
    merge_radius_m: float = 1000.0
    merge_apart_m: float = 500.0
    merge_tile_m: float = 4000.0
    update_score_delta: float = 1.0
    cell_tests_per_day: float = 1.8e4
    min_recurrence_days: float = 0.02
    tests_from_baseline: bool = True
    utc_offset_min: int = 480
    fill_unseen_hours: bool = False
    window_weight_ratio: float = 2.0

    def __post_init__(self) -> None:
        for name in ("window_s", "slide_s", "incident_gap_s", "burst_gap_s", "close_after_slides"):
            if getattr(self, name) <= 0:
                raise CorrelationError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.lateness_s < 0:
            raise CorrelationError(f"lateness_s must be >= 0, got {self.lateness_s!r}")
        if self.window_s % self.slide_s:
            raise CorrelationError(
                f"window_s ({self.window_s}) must be a multiple of slide_s ({self.slide_s})"
            )
        for name in (
            "incident_radius_m",
            "burst_radius_m",
            "cell_m",
            "hotspot_radius_m",
            "merge_radius_m",
            "merge_tile_m",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise CorrelationError(f"{name} must be a positive number of metres, got {v!r}")
        self._check_scales()
        if not (math.isfinite(self.merge_apart_m) and self.merge_apart_m >= 0):
            raise CorrelationError(
                f"merge_apart_m must be >= 0 m (0: off), got {self.merge_apart_m!r}"
            )
        if not 0 < self.bh_q < 1:
            raise CorrelationError(f"bh_q must lie in (0, 1), got {self.bh_q!r}")
        if not (math.isfinite(self.cell_tests_per_day) and self.cell_tests_per_day > 0):
            raise CorrelationError(
                f"cell_tests_per_day must be a positive number, got {self.cell_tests_per_day!r};"
                " `hotspot evaluate` prints the cell tests a day of a run of the city"
            )
        if not (math.isfinite(self.min_recurrence_days) and self.min_recurrence_days >= 0):
            raise CorrelationError(
                f"min_recurrence_days must be >= 0 days (0: off), got {self.min_recurrence_days!r}"
            )
        if self.corroboration_min_events < 1:
            raise CorrelationError(
                "corroboration_min_events must be >= 1 (1: every source in the disk counts),"
                f" got {self.corroboration_min_events!r}"
            )
        if self.close_score > self.open_score:
            raise CorrelationError("close_score must not exceed open_score (hysteresis)")

    def _check_scales(self) -> None:
        # Settings may hand over lists (JSON, environment); store tuples so the object hashes.
        object.__setattr__(self, "windows_s", tuple(int(w) for w in self.windows_s))
        object.__setattr__(self, "radii_m", tuple(float(r) for r in self.radii_m))
        for name, values in (("windows_s", self.windows_s), ("radii_m", self.radii_m)):
            if not values or any(b <= a for a, b in zip(values[:-1], values[1:], strict=True)):
                raise CorrelationError(
                    f"{name} must be a non-empty, strictly increasing tuple, got {values!r}"
                )
        for w in self.windows_s:
            if w <= 0 or w % self.slide_s or w > self.window_s:
                raise CorrelationError(
                    f"windows_s entries must be positive multiples of slide_s ({self.slide_s}) "
                    f"and at most window_s ({self.window_s}), got {w!r}; raise window_s too"
                )
        if not (math.isfinite(self.window_weight_ratio) and self.window_weight_ratio > 0):
            raise CorrelationError(
                f"window_weight_ratio must be > 0 (1: every window weighs the same), "
                f"got {self.window_weight_ratio!r}"
            )
        for r in self.radii_m:
            if not (math.isfinite(r) and 0 < r <= self.hotspot_radius_m):
                raise CorrelationError(
                    f"radii_m entries must be positive metres, at most hotspot_radius_m "
                    f"({self.hotspot_radius_m}), got {r!r}"
                )

    @property
    def scales(self) -> list[tuple[int, float]]:
        """Every (window_s, radius_m) pair scored, windows outer."""
        return [(w, r) for w in self.windows_s for r in self.radii_m]

    @property
    def scale_weights(self) -> np.ndarray:
        """Per scale (``scales`` order), its window's weight in the cell's Bonferroni
        correction: 1 for the longest window, times ``window_weight_ratio`` per shorter one."""
        longer = np.arange(len(self.windows_s))[::-1]  # windows longer than each
        by_window = self.window_weight_ratio ** longer.astype(np.float64)
        return np.repeat(by_window, len(self.radii_m))

    @property
    def open_p_max(self) -> float:
        """The largest p-value a flag may open at under ``min_recurrence_days`` (1: off)."""
        if self.min_recurrence_days <= 0:
            return 1.0
        return min(1.0 / (self.min_recurrence_days * self.cell_tests_per_day), OPEN_P_CEILING)

    def recurrence_days(self, p_value: np.ndarray) -> np.ndarray:
        """Days one waits for a cell test this significant by chance anywhere in the city:
        ``1 / (p x cell_tests_per_day)``, capped at ``MAX_RECURRENCE_DAYS`` (p underflows to
        0 for overwhelming clusters, and JSON has no infinity)."""
        p = np.asarray(p_value, np.float64) * self.cell_tests_per_day
        with np.errstate(divide="ignore"):
            return np.minimum(1.0 / np.maximum(p, 0.0), MAX_RECURRENCE_DAYS)

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    @property
    def slide_ms(self) -> int:
        return self.slide_s * 1000

    @property
    def lateness_ms(self) -> int:
        return self.lateness_s * 1000

    @property
    def incident_gap_ms(self) -> int:
        return self.incident_gap_s * 1000

    @property
    def burst_gap_ms(self) -> int:
        return self.burst_gap_s * 1000

    def to_dict(self) -> dict[str, float | int | list]:
        """Plain JSON values (tuples as lists), so a snapshot header compares equal."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
