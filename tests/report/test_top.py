"""``hotspot top``'s table: the open flags of the warehouse with their place and counts."""

from __future__ import annotations

from rich.console import Console

from pipeline.geo.admin_units import load_registry
from pipeline.report import flags_table, open_flags
from pipeline.report.top import recurrence
from pipeline.warehouse import open_warehouse


def test_open_flags_are_listed_by_score_with_their_place(backfilled_city, city):
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        flags, clock = open_flags(wh)
        open_count = wh.query(
            f"SELECT count() FROM {wh.database}.flags FINAL WHERE status != 'close'"
        )[0][0]
    assert len(flags) == open_count > 0, "the unflushed backfill leaves open flags"
    assert [f.score for f in flags] == sorted((f.score for f in flags), reverse=True)
    assert all(clock >= f.opened_ms for f in flags)
    registry = load_registry(city.registry)
    console = Console(width=240, record=True)
    console.print(flags_table(flags, registry, clock))
    text = console.export_text()
    names = dict(
        zip(registry.communities.codes.tolist(), registry.communities.names.tolist(), strict=True)
    )
    for f in flags:
        assert names[f.community_code] in text and f.station_id in text
        assert f"{f.score:.1f}" in text
        assert f.recurrence_days > 0 and recurrence(f.recurrence_days) in text
    assert f"{len(flags)} open" in text


def test_no_open_flags_says_so():
    console = Console(width=120, record=True)
    console.print(flags_table([], None, None))
    assert "no open flags" in console.export_text()


def test_recurrence_reads_in_hours_days_years_or_never():
    from pipeline.correlate.params import MAX_RECURRENCE_DAYS

    assert [recurrence(d) for d in (0.0, 0.1, 30.4, 800.0, MAX_RECURRENCE_DAYS)] == [
        "-",
        "2.4 h",
        "30 d",
        "2 y",
        "never",
    ]
