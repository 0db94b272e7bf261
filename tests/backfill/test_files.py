"""Backfilling replay files: what the file-level driver adds to the engine."""

from __future__ import annotations

import numpy as np

from pipeline.backfill.files import backfill_files
from pipeline.correlate.baseline.district_fit import CellRates
from pipeline.correlate.baseline.store import store_fit
from pipeline.geo.admin_units import load_registry
from pipeline.settings import Settings
from pipeline.warehouse import migrate, open_warehouse
from tests.conftest import PSEUDONYM_KEY


def test_four_partitions_read_the_newest_fit_once(tmp_path, city):
    """A backfill's partitions share one read of the newest stored fit: four partitions, one
    lookup of it in the warehouse (each was a chDB query, a fixed cost a small backfill
    notices). The warehouse is real; its ``query`` is only wrapped to count the lookups."""
    settings = Settings(
        data_dir=tmp_path / "data",
        registry_path=city.registry,
        pseudonym_key=PSEUDONYM_KEY,
        partitions=4,
    )
    params = settings.correlation
    replay = tmp_path / "replay.jsonl"
    with open(city.replay) as src:
        replay.write_text("".join(line for _, line in zip(range(2000), src, strict=False)))
    lookups: list[str] = []
    with open_warehouse(settings.resolved_warehouse_url) as warehouse:
        migrate(warehouse)
        fit = CellRates(
            (params.cell_m / 1000.0) ** 2, np.array([7]), np.ones((1, 168)), np.ones(168), 0.1
        )
        store_fit(warehouse, fit, params, 0, 3_600_000)
        query = warehouse.query

        def counted(sql: str) -> list[tuple]:
            if f"FROM {warehouse.database}.baselines WHERE" in sql:
                lookups.append(sql)
            return query(sql)

        warehouse.query = counted
        backfill_files(settings, load_registry(city.registry), warehouse, [replay], flush=False)
        stored = warehouse.query(f"SELECT count() FROM {warehouse.database}.alerts")
    assert stored[0][0] > 1000  # the chunk was backfilled, by four partitions' correlators
    assert len(lookups) == 1
