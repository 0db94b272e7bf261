"""The in-process pipeline: batch cuts do not change a row; late alerts are dead-lettered once."""

from __future__ import annotations

import pytest

from pipeline.backfill.files import backfill_files
from pipeline.geo.admin_units import load_registry
from pipeline.settings import Settings
from pipeline.warehouse import migrate, open_warehouse
from tests.backfill.stored import backfilled
from tests.conftest import PSEUDONYM_KEY


def test_chunk_size_does_not_change_a_row(city, tmp_path):
    report, broken, whole = backfilled(city, tmp_path / "whole", 1_000_000)
    cut_report, _, cut = backfilled(city, tmp_path / "cut", 777, insert_rows=1000)  # many inserts
    assert not broken
    assert report.flag_events > 0 and report.incidents > 0 and report.late > 0
    assert cut == whole
    assert cut_report.cell_tests == report.cell_tests > 0  # the tests a day behind recurrence


def test_a_typed_parquet_replay_gives_the_rows_of_its_jsonl(city, tmp_path):
    """Values decoded at conversion (typed Parquet) end as the same alerts, incidents, flags
    and dead letters as decoding the JSON Lines again."""
    from pipeline.replay.parquet import jsonl_to_parquet

    typed = tmp_path / "typed.parquet"
    jsonl_to_parquet(city.replay, typed, [], typed=True)
    report, _, from_jsonl = backfilled(city, tmp_path / "jsonl", 5000)
    typed_report, broken, from_typed = backfilled(city, tmp_path / "typed", 5000, path=typed)
    assert not broken and sum(report.deadletters.values()) > 0
    assert from_typed == from_jsonl
    assert (typed_report.alerts, typed_report.deadletters) == (report.alerts, report.deadletters)


def test_each_late_alert_is_dead_lettered_once_and_still_stored(city, tmp_path):
    report, _, rows = backfilled(city, tmp_path / "late", 5000, partitions=3)
    late = [
        alert_id
        for (reason, alert_id, _), n in rows["dead"].items()
        if reason == "late"
        for _ in range(n)
    ]
    assert len(late) == report.late > 0
    assert len(set(late)) == len(late)  # a halo copy's lateness is not dead-lettered again
    stored = {row[0] for row in rows["alerts"]}
    assert set(late) <= stored  # late for correlation, still an alert of the warehouse
    assert sum(rows["dead"].values()) == sum(report.deadletters.values())


def test_the_arrival_clock_judges_each_record_by_its_own_arrival(city, tmp_path):
    """A record 15 min ahead of its own arrival is future (limit 10 min) even when the same
    chunk holds records that arrived an hour later; 5 min ahead is fine."""
    import json
    import time

    registry = load_registry(city.registry)
    lat, lon = float(registry.grid_centroid_lat[0]), float(registry.grid_centroid_lon[0])
    t0 = (int(time.time() * 1000) // 60_000 - 180) * 60_000
    minute = 60_000

    def line(alert_id: str, arrival: int, event: int) -> str:
        value = {
            "alert_id": alert_id,
            "camera_id": "cam",
            "detected_at": event,
            "kind": "crowd",
            "confidence": 0.9,
            "lat": lat,
            "lon": lon,
        }
        return json.dumps({"topic": "alerts.camera", "ts": arrival, "value": value})

    lines = [line("ahead-15", t0, t0 + 15 * minute), line("ahead-5", t0, t0 + 5 * minute)]
    lines += [line(f"n{i}", t0 + i * minute, t0 + i * minute - 500) for i in range(1, 61)]
    path = tmp_path / "clock.jsonl"
    path.write_text("\n".join(lines) + "\n")
    settings = Settings(
        data_dir=tmp_path, registry_path=city.registry, pseudonym_key=PSEUDONYM_KEY, partitions=1
    )
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        migrate(wh)
        report, _ = backfill_files(
            settings, registry, wh, [path], clock="arrival", chunk_records=10_000
        )
        future = wh.query(
            f"SELECT alert_id FROM {wh.database}.deadletters FINAL WHERE reason = 'future_time'"
        )
    assert future == [("camera:ahead-15",)]
    assert report.alerts == 61 and report.deadletters["future_time"] == 1


@pytest.mark.parametrize("apart_m", [0.0, 500.0])
def test_flags_and_new_tests_do_not_depend_on_the_partition_count(city, tmp_path, apart_m):
    """Each partition's correlator also tests its halo cells; the report counts a cell only in
    the partition that owns it, so the tests per day (the multiple-testing burden a flag's
    p-value is judged against) are those of one partition, and a cell's new tests (an event
    entered its largest disk in the last slide) and so its flags, gated by the recurrence
    interval, are the same whether the city is one partition or four (issue 23, item 2); also
    with ``merge_apart_m`` (a stronger cell apart from an open flag opens its own)."""
    from pipeline.correlate import CorrelationParams
    from pipeline.correlate.baseline.store import prior_baseline

    params = CorrelationParams(
        min_recurrence_days=GATE_DAYS, cell_tests_per_day=1e4, merge_apart_m=apart_m
    )
    tests, flags = _by_partition_count(city, tmp_path, params, prior_baseline)
    assert tests[1] == tests[4] > 0
    assert flags[1] == flags[4]
    opened = [f for f in flags[1] if f[2] == "open"]
    assert opened and all(p <= params.open_p_max for _, _, _, _, p, _ in opened)


#: the recurrence bar of the partition test: some flags open, some cells are held back
GATE_DAYS = 0.01


def _by_partition_count(city, tmp_path, params, baseline_for) -> tuple[dict, dict]:
    """The cell tests and the sorted flag events of backfilling the city (in memory) as 1
    and as 4 partitions with ``params``; ``baseline_for(settings)`` builds each partition's
    baseline."""
    from functools import partial

    from pipeline.backfill.files import backfill_to_memory

    registry = load_registry(city.registry)
    tests, flags = {}, {}
    for partitions in (1, 4):
        settings = Settings(
            data_dir=tmp_path / str(partitions),
            registry_path=city.registry,
            pseudonym_key=PSEUDONYM_KEY,
            partitions=partitions,
            correlation=params,
        )
        sink, report = backfill_to_memory(
            settings, registry, [city.replay], partial(baseline_for, settings)
        )
        tests[partitions] = report.cell_tests
        flags[partitions] = sorted(
            (f.flag_id, f.version, f.status, f.cell_id, f.p_value, f.recurrence_days)
            for f in sink.flags
        )
    return tests, flags


def test_a_fitted_baselines_city_bars_do_not_depend_on_the_partition_count(city, tmp_path):
    """With a fitted table the correlators use the city's own bars (its tests a day estimated
    from the table, scan.test_rate): every partition builds its baseline from the same table,
    so 1 and 4 partitions open the same flags with the same recurrence intervals. The table
    is a sparse city's (0.01 alerts per km² an hour), so the bars sit at the ceiling and flags
    open at p-values the reference bar (2.8e-3) would refuse (issue 23, item 3)."""
    import numpy as np

    from pipeline.correlate import CorrelationParams
    from pipeline.correlate.baseline.history import CellHourBaseline
    from pipeline.correlate.lattice import Lattice
    from pipeline.correlate.params import OPEN_P_CEILING
    from pipeline.correlate.scan.test_rate import city_params

    params = CorrelationParams()
    lattice = Lattice(params.cell_m)
    ix, iy = np.meshgrid(np.arange(-40, 40), np.arange(-40, 40), indexing="ij")
    ids = lattice.cell_id(ix.ravel(), iy.ravel())

    def sparse_table() -> CellHourBaseline:
        return CellHourBaseline(
            lattice.cell_km2, np.full(168, 0.01), ids, np.full((len(ids), 168), 0.01)
        )

    bars = city_params(params, sparse_table())
    assert bars.open_p_max == OPEN_P_CEILING and bars.cell_tests_per_day < 100
    _, flags = _by_partition_count(city, tmp_path, params, lambda _settings: sparse_table())
    assert flags[1] == flags[4]
    opened = [f for f in flags[1] if f[2] == "open"]
    assert opened and all(p <= OPEN_P_CEILING for _, _, _, _, p, _ in opened)
    assert any(p > params.open_p_max for _, _, _, _, p, _ in opened)
    # recurrence intervals are the city's: 1 / (p x its tests a day)
    assert all(
        r == pytest.approx(min(1 / (p * bars.cell_tests_per_day), 3.65e8))
        for _, _, _, _, p, r in opened
    )
