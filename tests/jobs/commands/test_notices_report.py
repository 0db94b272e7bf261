"""``hotspot report notices --month`` and ``hotspot evaluate --false-alarms``' section, from
the command line on a chDB warehouse holding notice events the notice book made."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from typer.testing import CliRunner

from jobs.cli import app
from pipeline.patrol import AckRecord, NoticeBook, PatrolParams, notice_id
from pipeline.warehouse import migrate, open_warehouse
from pipeline.warehouse.rows import notice_event_rows
from tests.patrol.test_book import flag

MINUTE = 60_000
#: 2026-11-10 02:00 UTC: 10:00 in the city (UTC+8, the ratings' offset), in November
T0 = int(datetime(2026, 11, 10, 2, tzinfo=UTC).timestamp() * 1000)


def notices() -> list:
    """Four notices of November: PS1 received one at 3 minutes and one at 40 (late), PS2
    never received its one, PS3 called its one a false alarm at 10 minutes; and one of PS1 in
    December (local time: 2026-11-30 16:30 UTC), never received."""
    book, events = NoticeBook(0, PatrolParams()), []
    specs = [
        ("PS1", T0, 3, "received", 7),
        ("PS1", T0 + MINUTE, 40, "received", 8),
        ("PS2", T0 + 2 * MINUTE, None, None, 9),
        ("PS3", T0 + 3 * MINUTE, 10, "false_alarm", 10),
        ("PS1", int(datetime(2026, 11, 30, 16, 30, tzinfo=UTC).timestamp() * 1000), None, None, 11),
    ]
    log = []  # (time, flag or ack), played in time order as a partition's log would be
    for n, (station, at, after, action, cell) in enumerate(specs):
        f = msgspec.structs.replace(
            flag(at=at), flag_id=f"flg-{n:016x}", station_id=station, cell_id=cell
        )
        log.append((at, f))
        if after is not None:
            reason = "drill" if action == "false_alarm" else None
            nid = notice_id(0, f.flag_id)
            log.append(
                (
                    at + after * MINUTE,
                    AckRecord(nid, station, action, at + after * MINUTE, None, reason, ""),
                )
            )
    for at, item in sorted(log, key=lambda x: x[0]):
        if isinstance(item, AckRecord):
            events += book.due(at)
            events.append(book.apply(item))
        else:
            events += book.flags([item])
    return events + book.due(T0 + 90 * 24 * 60 * MINUTE)


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("HOTSPOT_SETTINGS_FILE", "HOTSPOT_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    with open_warehouse(f"chdb://{(data / 'warehouse').resolve()}") as wh:
        migrate(wh)
        wh.insert("notice_events", notice_event_rows(notices()))
    return {"HOTSPOT_DATA_DIR": str(data)}


def test_the_accountability_list_names_the_units_unacknowledged_at_30_minutes(env):
    result = CliRunner().invoke(app, ["report", "notices", "--month", "2026-11"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "notices of 2026-11 unacknowledged at 30 minutes, by station"
    assert [line.split() for line in lines[2:]] == [
        ["PS1", "2", "1", "1", "0", "40", "min"],  # the December one is not November's
        ["PS2", "1", "1", "0", "1", "never"],
    ]
    december = CliRunner().invoke(app, ["report", "notices", "--month", "2026-12"], env=env)
    assert december.output.splitlines()[2].split() == ["PS1", "1", "1", "0", "1", "never"]
    empty = CliRunner().invoke(app, ["report", "notices", "--month", "2026-10"], env=env)
    assert empty.output.splitlines()[-1] == "none"
    bad = CliRunner().invoke(app, ["report", "notices", "--month", "11/2026"], env=env)
    assert bad.exit_code != 0 and "YYYY-MM" in str(bad.exception)  # the CLI prints it


def test_false_alarms_per_cell_are_read_for_analysts(env):
    from pipeline.report import false_alarm_cells

    with open_warehouse(f"chdb://{env['HOTSPOT_DATA_DIR']}/warehouse") as wh:
        total, cells = false_alarm_cells(wh)
    assert total == 1
    assert [(c.cell_id, c.station_id, c.false_alarms, c.reasons) for c in cells] == [
        (10, "PS3", 1, ["drill"])
    ]
