"""The daily trend job: classify every grid cell of the registry for one day or a range of days.

For a day ``D`` the window is the ``steps`` time steps of ``step_minutes`` ending at the local
midnight after ``D`` (``Settings.trends``; default the 28 days up to and including ``D``). The
job reads the counted feeds' alerts per grid cell and time bucket from the warehouse in one
query (each alert once: ``uniqExact(alert_id)``, so a batch stored twice counts once), then per
day: Gi* of every cell in every step with a false discovery rate per step (:mod:`.space_time`),
the Mann-Kendall trend of each cell's z-scores (:mod:`.mann_kendall`) and the pattern
(:mod:`.patterns`). Every grid cell gets a row per day in ``cell_trends``, "no pattern"
included; re-classifying a day replaces its rows (ReplacingMergeTree(computed_at): read FINAL).

A window must lie inside the stored history: steps before the first stored alert would read as
quiet steps and make every cell look new. Such days are refused, with the first day that can be
classified, as are days whose window holds no counted alert at all.

>>> days_between("2026-11-03", "2026-11-05")
[datetime.date(2026, 11, 3), datetime.date(2026, 11, 4), datetime.date(2026, 11, 5)]
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from ..exceptions import ConfigurationError
from ..geo.admin_units import AdminRegistry
from ..settings import TrendSettings
from ..warehouse import Warehouse
from .mann_kendall import mann_kendall
from .neighbours import grid_neighbours
from .patterns import classify, pattern_name, split_code
from .space_time import hot_and_cold

__all__ = [
    "MAX_DAYS",
    "CellTrends",
    "days_between",
    "parse_day",
    "classify_days",
    "write_trends",
]

#: most days classified in one run (a year: each day is a full classification)
MAX_DAYS = 366
_DAY_MS = 86_400_000
_MINUTE_MS = 60_000


def parse_day(text: str, option: str) -> date:
    """A day written ``YYYY-MM-DD``; a :class:`ConfigurationError` naming ``option`` if not."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{option} {text!r} is not a day YYYY-MM-DD (e.g. 2026-11-30)"
        ) from None


def days_between(since: str | None, until: str) -> list[date]:
    """Every day from ``since`` (None: ``until``) to ``until``, both included."""
    last = parse_day(until, "--until")
    first = last if since is None else parse_day(since, "--since")
    if last < first:
        raise ConfigurationError(f"--since {first} is after --until {last}; swap them")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ConfigurationError(
            f"{count} days asked for; classify at most {MAX_DAYS} at once (run it in parts)"
        )
    return [first + timedelta(days=k) for k in range(count)]


def _day_end_ms(day: date, utc_offset_min: int) -> int:
    """Epoch ms of the local midnight that ends ``day``."""
    return ((day - date(1970, 1, 1)).days + 1) * _DAY_MS - utc_offset_min * _MINUTE_MS


def _shown(ms: int, utc_offset_min: int) -> str:
    local = datetime.fromtimestamp(ms / 1000, UTC) + timedelta(minutes=utc_offset_min)
    return local.strftime("%Y-%m-%d %H:%M") + " local"


@dataclass(frozen=True)
class CellTrends:
    """The classification of every grid cell on each of ``days``: arrays shaped (days, cells)."""

    days: list[date]
    grid_codes: np.ndarray  # str, the registry's order
    code: np.ndarray  # int8 pattern code (pipeline.trends.patterns)
    hot_steps: np.ndarray  # int: steps of the window the cell was a significant hot spot
    cold_steps: np.ndarray
    final_z: np.ndarray  # Gi* z of the final step; NaN where undefined
    tau: np.ndarray  # Mann-Kendall tau-b of the z-scores against time
    trend_p: np.ndarray  # its two-sided p-value
    alerts: np.ndarray  # counted alerts in the window
    final_alerts: np.ndarray  # counted alerts in the final step
    settings: TrendSettings
    unplaced: int  # counted alerts whose grid code the registry does not know (not counted)

    def summary(self) -> list[dict[str, object]]:
        """Per day: how many cells have each hot and each cold pattern (no-pattern cells too)."""
        lines = []
        for k, day in enumerate(self.days):
            codes, counts = np.unique(self.code[k], return_counts=True)
            lines.append(
                {
                    "day": day,
                    **{pattern_name(c): int(n) for c, n in zip(codes, counts, strict=True)},
                }
            )
        return lines

    def listed(self, k: int = -1) -> list[dict[str, object]]:
        """The cells with a pattern on day ``k`` (default the last): hot before cold, then in
        the patterns' order, then most alerts in the window first."""
        code = self.code[k]
        cells = np.flatnonzero(code != 0)
        order = np.lexsort(
            (self.grid_codes[cells], -self.alerts[k, cells], np.abs(code[cells]), code[cells] < 0)
        )
        return [
            {
                "grid": str(self.grid_codes[c]),
                "pattern": pattern_name(int(code[c])),
                "hot_steps": int(self.hot_steps[k, c]),
                "cold_steps": int(self.cold_steps[k, c]),
                "trend": float(self.tau[k, c]),
                "trend_p": float(self.trend_p[k, c]),
                "alerts": int(self.alerts[k, c]),
            }
            for c in cells[order]
        ]

    def rows(self, registry: AdminRegistry) -> dict[str, object]:
        """Warehouse rows (``cell_trends``), one per day and grid cell."""
        n_days, n = self.code.shape
        units = registry.unit_columns(np.arange(n, dtype=np.int32))
        pattern, spot = split_code(self.code.ravel())
        s = self.settings
        total = n_days * n
        return {
            "day": np.repeat(np.array(self.days, dtype=object), n),
            **{name: np.tile(values, n_days) for name, values in units.items()},
            "pattern": pattern,
            "spot": spot,
            "code": self.code.ravel().astype(np.int8),
            "hot_steps": self.hot_steps.ravel().astype(np.uint16),
            "cold_steps": self.cold_steps.ravel().astype(np.uint16),
            "steps": np.full(total, s.steps, np.uint16),
            "step_minutes": np.full(total, s.step_minutes, np.uint32),
            "final_z": self.final_z.ravel().astype(np.float64),
            "trend_tau": self.tau.ravel().astype(np.float64),
            "trend_p": self.trend_p.ravel().astype(np.float64),
            "alerts": self.alerts.ravel().astype(np.uint32),
            "final_alerts": self.final_alerts.ravel().astype(np.uint32),
            "alpha": np.full(total, s.alpha),
            "trend_alpha": np.full(total, s.trend_alpha),
            "share": np.full(total, s.share),
            "computed_at": np.full(total, np.datetime64(time.time_ns() // 1_000_000, "ms")),
        }


def _bucket_counts(
    warehouse: Warehouse,
    registry: AdminRegistry,
    settings: TrendSettings,
    origin_ms: int,
    bucket_ms: int,
    n_buckets: int,
) -> tuple[np.ndarray, int]:
    """Counted alerts per (bucket, grid cell) from ``origin_ms``, and those in unknown cells."""
    end_ms = origin_ms + n_buckets * bucket_ms
    sources = ", ".join(f"'{s}'" for s in settings.sources)  # validated feed names
    cols = warehouse.query_columns(
        f"SELECT grid_code, intDiv(toUnixTimestamp64Milli(event_time) - {origin_ms}, "
        f"{bucket_ms}) AS bucket, uniqExact(alert_id) AS alerts "
        f"FROM {warehouse.database}.alerts "
        f"WHERE event_time >= fromUnixTimestamp64Milli({origin_ms}) "
        f"AND event_time < fromUnixTimestamp64Milli({end_ms}) "
        f"AND source IN ({sources}) AND grid_code != '' "
        "GROUP BY grid_code, bucket"
    )
    cell = registry.grid_index_of(np.array(cols["grid_code"], dtype=str))
    bucket = np.array(cols["bucket"], np.int64)
    alerts = np.array(cols["alerts"], np.int64)
    known = cell >= 0
    n = len(registry.grids)
    flat = bucket[known] * n + cell[known]
    counts = np.bincount(flat, weights=alerts[known], minlength=n_buckets * n)
    return counts.reshape(n_buckets, n), int(alerts[~known].sum())


def _first_alert_ms(warehouse: Warehouse, before_ms: int) -> int | None:
    """Event time of the first stored alert of any feed before ``before_ms``; None if none."""
    ((count, first),) = warehouse.query(
        f"SELECT count(), toUnixTimestamp64Milli(min(event_time)) "
        f"FROM {warehouse.database}.alerts "
        f"WHERE event_time < fromUnixTimestamp64Milli({before_ms})"
    )
    return int(first) if count else None


def _check_history(
    warehouse: Warehouse, days: list[date], settings: TrendSettings, window_ms: int
) -> None:
    s = settings
    first_end = _day_end_ms(days[0], s.utc_offset_min)
    last_end = _day_end_ms(days[-1], s.utc_offset_min)
    step_ms = s.step_minutes * _MINUTE_MS
    start = first_end - window_ms
    # the usual case in one cheap query (it stops at the first row found); the rest only to
    # say what is wrong
    held_before = warehouse.query(
        f"SELECT 1 FROM {warehouse.database}.alerts "
        f"WHERE event_time < fromUnixTimestamp64Milli({start + step_ms}) LIMIT 1"
    )
    if held_before:
        return
    first = _first_alert_ms(warehouse, last_end)
    if first is None:
        raise ConfigurationError(
            f"no alerts stored up to {days[-1]}: nothing to classify and nothing was written; "
            "backfill the history first (`hotspot backfill FILE`)"
        )
    # the window's first step ends before the stored history: say where it starts
    held = -((first - first_end) // step_ms)  # steps of the window that reach the history
    ok_day = days[0] + timedelta(days=(first - step_ms - start) // _DAY_MS + 1)
    shorter = (
        f", or set HOTSPOT_TRENDS__STEPS={held} (at least trends.min_steps={s.min_steps})"
        if held >= s.min_steps
        else f"; the history holds {held} steps, trends.min_steps is {s.min_steps}"
    )
    raise ConfigurationError(
        f"the window of {s.steps} steps of {s.step_minutes} min for {days[0]} starts at "
        f"{_shown(start, s.utc_offset_min)}, before the first stored alert "
        f"({_shown(first, s.utc_offset_min)}): its empty steps would read as quiet. "
        f"Classify from {ok_day} on, backfill history from {_shown(start, s.utc_offset_min)}"
        f"{shorter}; nothing was written"
    )


def classify_days(
    warehouse: Warehouse, registry: AdminRegistry, days: list[date], settings: TrendSettings
) -> CellTrends:
    """Classify every grid cell of ``registry`` on each of ``days`` (ascending, consecutive)."""
    if not days:
        raise ConfigurationError("no day to classify; pass --until YYYY-MM-DD")
    n = len(registry.grids)
    if n < 3:
        raise ConfigurationError(
            f"the admin registry has {n} grid cells; Gi* needs at least 3 (level 'grid')"
        )
    s = settings
    step_ms = s.step_minutes * _MINUTE_MS
    window_ms = s.steps * step_ms
    _check_history(warehouse, days, s, window_ms)
    # Buckets as long as both a step and a day are whole numbers of them, so each day's window
    # is a run of whole buckets on one shared grid, read from the warehouse once.
    bucket_ms = math.gcd(step_ms, _DAY_MS)
    per_step, per_day = step_ms // bucket_ms, _DAY_MS // bucket_ms
    last_end = _day_end_ms(days[-1], s.utc_offset_min)
    n_buckets = s.steps * per_step + (len(days) - 1) * per_day
    origin = last_end - n_buckets * bucket_ms
    buckets, unplaced = _bucket_counts(warehouse, registry, s, origin, bucket_ms, n_buckets)
    indptr, indices = grid_neighbours(
        registry.grid_centroid_lat, registry.grid_centroid_lon, s.neighbour_m
    )
    shape = (len(days), n)
    out = {name: np.zeros(shape, dtype) for name, dtype in _OUTPUTS.items()}
    for k in range(len(days)):  # a loop per classified day; cells and steps are vectorised
        end = n_buckets - (len(days) - 1 - k) * per_day
        counts = buckets[end - s.steps * per_step : end].reshape(s.steps, per_step, n).sum(axis=1)
        if not counts.any():
            raise ConfigurationError(
                f"no {'/'.join(s.sources)} alert stored in the window of {days[k]} "
                f"({s.steps} steps of {s.step_minutes} min); nothing was written. Backfill "
                "those feeds, or count other feeds (HOTSPOT_TRENDS__SOURCES)"
            )
        spots = hot_and_cold(counts, indptr, indices, alpha=s.alpha)
        tau, trend_p = mann_kendall(np.nan_to_num(spots.z, nan=0.0).T)
        out["code"][k] = classify(
            spots.hot, spots.cold, tau, trend_p, share=s.share, trend_alpha=s.trend_alpha
        )
        out["hot_steps"][k] = spots.hot.sum(axis=0)
        out["cold_steps"][k] = spots.cold.sum(axis=0)
        out["final_z"][k] = spots.z[-1]
        out["tau"][k], out["trend_p"][k] = tau, trend_p
        out["alerts"][k] = counts.sum(axis=0)
        out["final_alerts"][k] = counts[-1]
    return CellTrends(
        days=list(days), grid_codes=registry.grids.codes, settings=s, unplaced=unplaced, **out
    )


_OUTPUTS = {
    "code": np.int8,
    "hot_steps": np.int64,
    "cold_steps": np.int64,
    "final_z": np.float64,
    "tau": np.float64,
    "trend_p": np.float64,
    "alerts": np.int64,
    "final_alerts": np.int64,
}


def write_trends(warehouse: Warehouse, trends: CellTrends, registry: AdminRegistry) -> int:
    """Insert the classification (replacing earlier rows of the same days); the rows the table
    holds for those days afterwards, read back."""
    warehouse.insert("cell_trends", trends.rows(registry), distinct_keys=True)
    days = ", ".join(f"'{day.isoformat()}'" for day in trends.days)
    stored = warehouse.query(
        f"SELECT count() FROM {warehouse.database}.cell_trends FINAL WHERE day IN ({days})"
    )
    return int(stored[0][0])
