"""A backfill into a fresh chDB warehouse, and every row it stored, read back: the one helper
the backfill tests compare outputs with."""

from __future__ import annotations

from collections import Counter

from pipeline.backfill.files import backfill_files
from pipeline.geo.admin_units import load_registry
from pipeline.settings import Settings
from pipeline.warehouse import migrate, open_warehouse
from tests.conftest import PSEUDONYM_KEY

#: The dead letters' columns that do not depend on the input's format (a typed Parquet file
#: and its JSON Lines name different sources).
DEAD_LETTER_COLUMNS = "reason, alert_id, detail"


def backfilled(
    city,
    data,
    chunk_records: int,
    partitions: int = 2,
    insert_rows: int = 500_000,
    path=None,
    processes: int = 1,
    dead_letter_columns: str = DEAD_LETTER_COLUMNS,
):
    """The report, the broken-file list and the stored rows (FINAL, sorted; the rollups as
    their views count them) of one backfill of ``path`` (the city's replay by default) into
    ``data``."""
    settings = Settings(
        data_dir=data,
        registry_path=city.registry,
        pseudonym_key=PSEUDONYM_KEY,
        partitions=partitions,
        backfill_processes=processes,
    )
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        migrate(wh)
        report, broken = backfill_files(
            settings,
            load_registry(city.registry),
            wh,
            [path or city.replay],
            chunk_records=chunk_records,
            insert_rows=insert_rows,
        )
        db = wh.database
        rows = {
            "alerts": sorted(
                wh.query(
                    f"SELECT alert_id, source, event_time, lat, lon, category, severity, "
                    f"grid_code, station_id, caller, device FROM {db}.alerts FINAL"
                )
            ),
            "incidents": sorted(map(repr, wh.query(f"SELECT * FROM {db}.incidents FINAL"))),
            "flags": sorted(map(repr, wh.query(f"SELECT * FROM {db}.flags FINAL"))),
            "dead": Counter(wh.query(f"SELECT {dead_letter_columns} FROM {db}.deadletters FINAL")),
            # the rollups, as the dashboards read them
            **{
                view: sorted(map(repr, wh.query(f"SELECT * FROM {db}.{view}")))
                for view in ("cell_minute_counts", "unit_hour_counts")
            },
        }
    return report, broken, rows
