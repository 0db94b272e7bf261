"""Re-running a backfill over the same range leaves the rows of a clean run (issue 21, item 3).

Real chDB warehouses: one backfilled, given a baseline fit, and backfilled again from the same
file; the other given the same fit and backfilled once. Every table and rollup must match row
by row.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.backfill.files import backfill_files
from pipeline.backfill.fit import fit_replay
from pipeline.backfill.replace import RangeReplacer
from pipeline.correlate.baseline.store import store_fit
from pipeline.geo.admin_units import load_registry
from pipeline.settings import Settings
from pipeline.warehouse import migrate, open_warehouse
from tests.conftest import PSEUDONYM_KEY

pytestmark = pytest.mark.timeout(600)

_HOUR_MS = 3_600_000
#: what is compared, per table or view: columns that hold the wall clock or random bytes left out
_SELECTS = {
    "alerts": "SELECT * EXCEPT ingest_time FROM {db}.alerts FINAL",
    "flags": "SELECT * FROM {db}.flags",  # every version stored, not only the newest
    "incidents": "SELECT * FROM {db}.incidents FINAL",
    "deadletters": "SELECT * EXCEPT (received_time, payload_sealed) FROM {db}.deadletters FINAL",
    "cell_minute_counts": "SELECT * FROM {db}.cell_minute_counts",
    "unit_hour_counts": "SELECT * FROM {db}.unit_hour_counts",
}


def _settings(city, data_dir) -> Settings:
    return Settings(
        data_dir=data_dir, registry_path=city.registry, pseudonym_key=PSEUDONYM_KEY, partitions=2
    )


def _rows(warehouse) -> dict[str, list[tuple]]:
    db = warehouse.database
    return {
        name: warehouse.query(f"{sql.format(db=db)} ORDER BY ALL") for name, sql in _SELECTS.items()
    }


@pytest.fixture(scope="module")
def runs(city, tmp_path_factory):
    """(rows after backfill + fit + backfill again, rows of a clean run with the same fit,
    rows of the first backfill, the second backfill's report)."""
    registry = load_registry(city.registry)
    base = _settings(city, tmp_path_factory.mktemp("fit"))
    with open(city.replay) as fh:  # the city's three hours, as recorded
        first_ts = json.loads(fh.readline())["ts"]
    since = first_ts // _HOUR_MS * _HOUR_MS
    fitted, _ = fit_replay(base, registry, [city.replay], since, since + 3 * _HOUR_MS)
    params = base.correlation

    rerun = _settings(city, tmp_path_factory.mktemp("rerun"))
    with open_warehouse(rerun.resolved_warehouse_url) as wh:
        migrate(wh)
        first, _ = backfill_files(rerun, registry, wh, [city.replay])
        before = _rows(wh)
        store_fit(wh, fitted, params, since, since + 3 * _HOUR_MS)
        second, _ = backfill_files(rerun, registry, wh, [city.replay])
        after = _rows(wh)

    clean = _settings(city, tmp_path_factory.mktemp("clean"))
    with open_warehouse(clean.resolved_warehouse_url) as wh:
        migrate(wh)
        store_fit(wh, fitted, params, since, since + 3 * _HOUR_MS)
        once, _ = backfill_files(clean, registry, wh, [city.replay])
        clean_rows = _rows(wh)
    return after, clean_rows, before, first, second, once


def test_the_fit_changes_the_flags_so_the_two_runs_differ(runs):
    _, clean, before, first, *_ = runs
    assert first.flag_events and before["flags"] != clean["flags"]


@pytest.mark.parametrize("table", list(_SELECTS))
def test_a_rerun_after_a_baseline_fit_equals_a_clean_run(runs, table):
    after, clean, *_ = runs
    assert after[table] == clean[table]
    assert clean[table], f"{table} is empty: the comparison would prove nothing"


def test_the_rerun_reports_what_it_replaced_and_a_clean_run_nothing(runs):
    _, _, _, first, second, once = runs
    assert not first.replaced and not once.replaced
    assert all(second.replaced[table] > 0 for table in ("alerts", "incidents", "flags"))


class _Recorder:
    """A warehouse stand-in that counts every row in the range and records the deletes."""

    database = "db"

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def query(self, sql: str) -> list[tuple]:
        return [(1,)]

    def execute(self, sql: str) -> None:
        if sql.startswith("DELETE"):
            self.deleted.append(sql)


def test_blocks_delete_only_what_no_earlier_block_covered():
    """The interval cleared grows as the hull of the blocks: a later block that overlaps an
    earlier one deletes only the new part, so no row this run wrote is ever deleted."""
    wh = _Recorder()
    replacer = RangeReplacer(wh)
    replacer.before_insert("flags", np.array([100, 200]), floor_ms=0)
    replacer.before_insert("flags", np.array([150, 300]), floor_ms=0)
    replacer.before_insert("flags", np.array([50, 120]), floor_ms=0)
    replacer.before_insert("flags", np.array([-5, 20]), floor_ms=30)  # before the floor
    bounds = [
        (int(s.split("Milli(")[1].split(",")[0]), int(s.split("Milli(")[2].split(",")[0]))
        for s in wh.deleted
    ]
    assert bounds == [(100, 200), (201, 300), (50, 99)]
    assert replacer.cleared["flags"] == (50, 300)
