"""Baseline: the expected rate of counted alerts per lattice cell and hour of week.

The model is multiplicative, ``rate(cell, hour) = level(cell) * profile(hour)``, so a short
history still gives a usable estimate for every hour: the level pools all hours of a cell and
the profile (mean 1) pools all cells of an hour. A cell's level is shrunk towards a configured
prior rate, as if ``prior_hours`` of prior exposure had been seen at that rate (a gamma-Poisson
posterior mean): with no history every cell gets the prior (the city-wide fallback), and as
history accumulates the cell's own rate takes over.

History comes from the warehouse (:meth:`Baseline.fit` on past alerts) and, while the engine
runs, from the stream itself (:meth:`Baseline.observe`, once per closed slide), so a deployment
without history converges on the long-run mean per cell observed so far. Rates are alerts per
hour per km²; only alerts with severity > 0 count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .exposure import add_repeated
from .merge import merge_sorted

__all__ = ["Baseline", "hour_of_week", "HOURS_PER_WEEK"]

HOURS_PER_WEEK = 168
_HOUR_MS = 3_600_000
# 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of a week that starts on Monday.
_EPOCH_HOUR_OF_WEEK = 72


def hour_of_week(event_ms: np.ndarray | int, utc_offset_min: int) -> np.ndarray:
    """Local hour of the week, Monday 00:00-01:00 = 0 ... Sunday 23:00-24:00 = 167."""
    local_hour = (np.asarray(event_ms, dtype=np.int64) + utc_offset_min * 60_000) // _HOUR_MS
    return (local_hour + _EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK


class LevelTerms(NamedTuple):
    """What :meth:`Baseline.levels` computes from: ``level = (count / cell_km2 + prior) /
    exposure``, ``count`` the history's count of the cell (``counts`` of the sorted ``ids``,
    0 for a cell never seen)."""

    ids: np.ndarray
    counts: np.ndarray
    cell_km2: float
    prior: float  # prior_rate * prior_hours
    exposure: float  # hours + prior_hours


class Baseline:
    """Per-cell levels (counts over exposure, shrunk to a prior) times an hour-of-week profile.

    ``cell_km2`` is the lattice cell area; ``prior_rate_km2_h`` the fallback rate (alerts per
    hour per km²); ``prior_hours`` its weight; ``profile`` 168 factors of mean 1 (default flat);
    ``cell_ids``/``counts``/``hours`` the history: counts per cell over ``hours`` of exposure;
    ``learn``: whether :meth:`observe` adds the stream to the history; ``dispersion``: the
    negative-binomial ``alpha`` scoring uses for window counts (0: Poisson).
    """

    def __init__(
        self,
        cell_km2: float,
        prior_rate_km2_h: float,
        *,
        prior_hours: float = 24.0,
        profile: np.ndarray | None = None,
        cell_ids: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        hours: float = 0.0,
        learn: bool = True,
        dispersion: float = 0.0,
    ) -> None:
        if not (cell_km2 > 0 and prior_rate_km2_h > 0 and prior_hours > 0 and hours >= 0):
            raise ValueError("cell_km2, prior_rate_km2_h and prior_hours must be > 0, hours >= 0")
        self.cell_km2 = float(cell_km2)
        self.prior_rate = float(prior_rate_km2_h)
        self.prior_hours = float(prior_hours)
        self.profile = (
            np.ones(HOURS_PER_WEEK) if profile is None else np.asarray(profile, dtype=np.float64)
        )
        if self.profile.shape != (HOURS_PER_WEEK,) or not (self.profile > 0).all():
            raise ValueError("profile must hold 168 positive factors, Monday 00:00 first")
        ids = np.empty(0, np.int64) if cell_ids is None else np.asarray(cell_ids, np.int64)
        cnt = np.zeros(len(ids)) if counts is None else np.asarray(counts, np.float64)
        self._ids, inverse = np.unique(ids, return_inverse=True)
        self._counts = np.bincount(inverse, weights=cnt, minlength=len(self._ids))
        # Whether ``_counts`` may be held outside (state(), level_terms()): then a merge copies
        # it before adding in place, else it adds in place (no copy of every cell per slide).
        self._counts_shared = False
        self.hours = float(hours)
        self.learn = learn
        if not dispersion >= 0:
            raise ValueError(f"dispersion must be >= 0, got {dispersion!r}")
        self.dispersion = float(dispersion)
        #: Bumped whenever the rates change (learning, restoring state), so memoised rates
        #: (:class:`pipeline.correlate.baseline.rate_cache.DiskRateCache`) know when to drop.
        self.revision = 0

    def expected(self, cell_ids: np.ndarray, hour_of_week: int) -> np.ndarray:
        """Expected alerts per hour per km² of each cell at that hour of week."""
        return self.levels(cell_ids) * self.profile[hour_of_week]

    def levels(self, cell_ids: np.ndarray) -> np.ndarray | None:
        """Each cell's level: :meth:`expected` is exactly ``levels(ids) * profile[hour]``, so
        scoring looks the cells up once for all the hours a boundary's windows overlap. None
        where a subclass's rates do not factor so."""
        cell_ids = np.asarray(cell_ids, dtype=np.int64)
        pos = np.searchsorted(self._ids, cell_ids)
        pos = np.minimum(pos, max(len(self._ids) - 1, 0))
        known = (self._ids[pos] == cell_ids) if len(self._ids) else np.zeros(len(cell_ids), bool)
        counts = np.where(known, self._counts[pos] if len(self._ids) else 0.0, 0.0)
        terms = self.level_terms()
        return (counts / terms.cell_km2 + terms.prior) / terms.exposure

    def level_terms(self) -> LevelTerms:
        """The learned counts and the scalars of :meth:`levels` (for kernels that compute the
        levels of many cells themselves, as :mod:`pipeline.correlate.scan.expected_counts` does)."""
        self._counts_shared = True
        return LevelTerms(
            self._ids,
            np.asarray(self._counts, np.float64),
            self.cell_km2,
            self.prior_rate * self.prior_hours,
            self.hours + self.prior_hours,
        )

    def disk_rates(
        self, cell_ids: np.ndarray, hour_of_week: int, radius_m: float
    ) -> np.ndarray | None:
        """Expected alerts per hour per km² of the ``radius_m`` disk around each cell's centre,
        where the baseline models whole disks; None: scoring averages the cells' rates."""
        return None

    def observe(
        self, cell_ids: np.ndarray, counts: np.ndarray, hours: float, times: int = 1
    ) -> None:
        """Add ``hours`` of stream exposure ``times`` times (one add per slide, see
        :mod:`.exposure`) with these counts per cell (no-op unless learning)."""
        if not self.learn:
            return
        cell_ids = np.asarray(cell_ids, np.int64)
        counts = np.asarray(counts, np.float64)
        if len(cell_ids) and not self._merge_unique(cell_ids, counts):
            ids = np.concatenate([self._ids, cell_ids])
            cnt = np.concatenate([self._counts, counts])
            self._ids, inverse = np.unique(ids, return_inverse=True)
            self._counts = np.bincount(inverse, weights=cnt, minlength=len(self._ids))
            self._counts_shared = False
        # else exposure only (most slides of a quiet city): the counts stay as they are
        self.hours = add_repeated(self.hours, hours, times)
        self.revision += 1

    def expose(self, hours: float, times: int = 1) -> None:
        """:meth:`observe` with no counts: ``hours`` of exposure added ``times`` times (the
        slides the engine skipped, most of a quiet city's), without building empty arrays."""
        if not self.learn:
            return
        self.hours = add_repeated(self.hours, hours, times)
        self.revision += 1

    def _merge_unique(self, cell_ids: np.ndarray, counts: np.ndarray) -> bool:
        """:meth:`observe`'s merge for sorted, unique ``cell_ids`` (what the engine passes at
        every slide): add to the known cells in place and insert the new ones, instead of
        re-sorting every cell seen so far (:func:`.merge.merge_sorted`). The same values as
        the general path: each cell there sums ``0.0 + old + count`` (bincount), here
        ``old + count`` or ``0.0 + count``. False, with nothing changed, where the cells are
        not sorted and unique (the general path's)."""
        # float64 (bincount's dtype); a copy where state() or level_terms() handed the array
        # out, so what they returned never changes.
        if self._counts_shared or self._counts.dtype != np.float64:
            self._counts = self._counts.astype(np.float64)
            self._counts_shared = False
        ids, merged, fresh = merge_sorted(self._ids, self._counts, cell_ids, counts)
        if fresh < 0:
            return False
        self._ids, self._counts = ids, merged
        return True

    @classmethod
    def fit(
        cls,
        cell_ids: np.ndarray,
        event_ms: np.ndarray,
        start_ms: int,
        end_ms: int,
        cell_km2: float,
        prior_rate_km2_h: float,
        *,
        utc_offset_min: int,
        **kwargs,
    ) -> Baseline:
        """Fit levels and profile from the counted alerts of history ``[start_ms, end_ms)``.

        The profile is each hour-of-week's city-wide rate over the overall rate (1 where that
        hour was never observed), smoothed towards 1 with one hour of pseudo-exposure at the
        mean, so a single quiet or busy hour of history cannot dominate.
        """
        if end_ms <= start_ms:
            raise ValueError("history must span some time: end_ms > start_ms")
        hour_starts = np.arange(start_ms - start_ms % _HOUR_MS, end_ms, _HOUR_MS)
        overlap = np.minimum(hour_starts + _HOUR_MS, end_ms) - np.maximum(hour_starts, start_ms)
        exposure = np.bincount(
            hour_of_week(hour_starts, utc_offset_min),
            weights=overlap / _HOUR_MS,
            minlength=HOURS_PER_WEEK,
        )
        hours = float(exposure.sum())
        per_how = np.bincount(hour_of_week(event_ms, utc_offset_min), minlength=HOURS_PER_WEEK)
        mean_rate = (len(event_ms) + 1.0) / (hours + 1.0)
        profile = (per_how + mean_rate) / (exposure + 1.0) / mean_rate
        profile /= np.average(profile, weights=exposure + 1.0)
        ids, counts = np.unique(np.asarray(cell_ids, np.int64), return_counts=True)
        return cls(
            cell_km2,
            prior_rate_km2_h,
            profile=profile,
            cell_ids=ids,
            counts=counts.astype(np.float64),
            hours=hours,
            **kwargs,
        )

    def state(self) -> dict[str, np.ndarray]:
        self._counts_shared = True
        return {"ids": self._ids, "counts": self._counts, "hours": np.array([self.hours])}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self._ids = np.asarray(state["ids"], np.int64)
        self._counts = np.asarray(state["counts"], np.float64)
        self._counts_shared = True  # may be the caller's array
        self.hours = float(state["hours"][0])
        self.revision += 1
