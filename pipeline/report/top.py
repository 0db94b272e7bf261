"""The open hotspot flags, read from the warehouse, as a terminal table.

A flag is open while its latest version is not ``close``. Its age is measured against the
stream's own clock (the newest flag boundary stored), so a backfilled day reads the same as a
live one; live, that clock is within a slide of the wall clock. Each flag's notice (the patrol
loop, ``pipeline.patrol``) shows where it stands: waiting for its receipt (with its age, and
whether it was reminded or escalated), or the latest action and how long the receipt took.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.table import Table

from ..correlate.params import MAX_RECURRENCE_DAYS
from ..geo.admin_units import AdminRegistry
from ..warehouse import Warehouse

__all__ = ["NoticeStatus", "OpenFlag", "open_flags", "flags_table", "notice_text", "recurrence"]

_FEEDS = {"alarm_phone": "alarm", "dispatch_110": "110", "camera": "cam", "grid_report": "grid"}


@dataclass(frozen=True, slots=True)
class NoticeStatus:
    """A flag's notice as it stands: its state (``issued`` until received), its issue time,
    the receipt time (s; None before it) and its timers fired."""

    state: str
    issued_ms: int
    receipt_s: float | None
    reminded: bool
    escalated: bool


@dataclass(frozen=True, slots=True)
class OpenFlag:
    flag_id: str
    version: int
    score: float
    recurrence_days: float  # 0: unknown (a row stored before the column existed)
    observed: int
    expected: float
    lat: float
    lon: float
    radius_m: float
    grid_code: str
    community_code: str
    street_code: str
    district_code: str
    station_id: str
    source_counts: dict
    opened_ms: int
    boundary_ms: int
    notice: NoticeStatus | None = None


def open_flags(warehouse: Warehouse, limit: int = 50) -> tuple[list[OpenFlag], int | None]:
    """Open flags by score (highest first) and the stream clock (newest boundary, epoch ms)."""
    db = warehouse.database
    cols = warehouse.query_columns(
        f"SELECT flag_id, version, score, recurrence_days, observed, expected, lat, lon, "
        f"radius_m, grid_code, "
        f"community_code, street_code, district_code, station_id, source_counts, "
        f"toUnixTimestamp64Milli(opened_time) AS opened_ms, "
        f"toUnixTimestamp64Milli(boundary_time) AS boundary_ms "
        f"FROM {db}.flags FINAL WHERE status != 'close' ORDER BY score DESC, flag_id "
        f"LIMIT {int(limit)}"
    )
    clock = warehouse.query(
        f"SELECT toUnixTimestamp64Milli(max(boundary_time)), count() FROM {db}.flags"
    )[0]
    cols["source_counts"] = [v if isinstance(v, dict) else dict(v) for v in cols["source_counts"]]
    flags = [OpenFlag(*row) for row in zip(*cols.values(), strict=True)]
    notices = _notices(warehouse, [f.flag_id for f in flags])
    flags = [replace(f, notice=notices.get(f.flag_id)) for f in flags]
    return flags, (int(clock[0]) if clock[1] else None)


def _notices(warehouse: Warehouse, flag_ids: list[str]) -> dict[str, NoticeStatus]:
    """The notices of these flags (the ``notices`` view), by flag id."""
    if not flag_ids:
        return {}
    ids = ", ".join("'" + f.replace("'", "") + "'" for f in flag_ids)  # flg-<hex>: no quotes
    rows = warehouse.query(
        "SELECT flag_id, last_state, toUnixTimestamp64Milli(issued_time), receipt_seconds, "
        f"reminded, escalated FROM {warehouse.database}.notices WHERE flag_id IN ({ids})"
    )
    return {
        f: NoticeStatus(s, int(i), None if r is None else float(r), bool(m), bool(e))
        for f, s, i, r, m, e in rows
    }


def notice_text(notice: NoticeStatus | None, clock_ms: int | None) -> str:
    """The notice column: ``-`` without a notice; waiting, its age and the timers fired
    (``issued 7m reminded``, ``issued 34m ESCALATED``); else the latest action and the receipt
    time (``dispatched, rcvd 3m``; ``LATE`` after an escalation).

    >>> notice_text(NoticeStatus("issued", 0, None, True, False), 7 * 60_000)
    'issued 7m reminded'
    >>> notice_text(NoticeStatus("arrived", 0, 2400.0, True, True), None)
    'arrived, rcvd 40m LATE'
    """
    if notice is None:
        return "-"
    if notice.receipt_s is None:
        age = _age(clock_ms - notice.issued_ms) if clock_ms is not None else "?"
        fired = " ESCALATED" if notice.escalated else " reminded" if notice.reminded else ""
        return f"{notice.state} {age}{fired}"
    late = " LATE" if notice.escalated else ""
    return f"{notice.state}, rcvd {_age(round(notice.receipt_s * 1000))}{late}"


def recurrence(days: float) -> str:
    """A recurrence interval as an analyst reads it: hours under a day, days under a year,
    then years; "-" when unknown."""
    if not days > 0:
        return "-"
    if days >= MAX_RECURRENCE_DAYS:
        return "never"
    if days < 1:
        return f"{days * 24:.1f} h"
    return f"{days:,.0f} d" if days < 365 else f"{days / 365:,.0f} y"


def _age(ms: int) -> str:
    minutes = max(ms, 0) // 60_000
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def flags_table(
    flags: list[OpenFlag],
    registry: AdminRegistry | None,
    clock_ms: int | None,
    title: str = "Open hotspot flags",
) -> Table:
    """Place (community name), units, station, score, recurrence interval, counts by feed, age
    and notice of each flag."""
    names = {}
    if registry is not None:
        names = dict(
            zip(
                registry.communities.codes.tolist(),
                registry.communities.names.tolist(),
                strict=True,
            )
        )
    table = Table(title=title, caption=f"{len(flags)} open" if flags else "no open flags")
    for column, justify in (
        ("place", "left"),
        ("units (grid/community/street/district)", "left"),
        ("station", "left"),
        ("score", "right"),
        ("by chance every", "right"),
        ("seen / expected", "right"),
        *((feed, "right") for feed in _FEEDS.values()),
        ("age", "right"),
        ("notice", "left"),
    ):
        table.add_column(column, justify=justify)
    for f in flags:
        place = names.get(f.community_code) or f.community_code or f"{f.lat:.4f}, {f.lon:.4f}"
        units = (
            " / ".join(
                u for u in (f.grid_code, f.community_code, f.street_code, f.district_code) if u
            )
            or "outside the grid"
        )
        counts = [str(f.source_counts.get(feed, "")) for feed in _FEEDS]
        age = _age(clock_ms - f.opened_ms) if clock_ms is not None else "-"
        table.add_row(
            place,
            units,
            f.station_id or "-",
            f"{f.score:.1f}",
            recurrence(f.recurrence_days),
            f"{f.observed} / {f.expected:.1f}",
            *counts,
            age,
            notice_text(f.notice, clock_ms),
        )
    return table
