"""A backfill into memory: what the warehouse would hold, for any cut of the input."""

from __future__ import annotations

import pytest

from pipeline.backfill.files import backfill_files, backfill_to_memory
from pipeline.backfill.sinks import MemorySink
from pipeline.correlate.baseline.store import prior_baseline
from pipeline.geo.admin_units import load_registry
from pipeline.settings import Settings
from pipeline.warehouse import migrate, open_warehouse
from tests.conftest import PSEUDONYM_KEY


def settings_for(city, data) -> Settings:
    return Settings(
        data_dir=data, registry_path=city.registry, pseudonym_key=PSEUDONYM_KEY, partitions=2
    )


def in_memory(city, data, chunk_records: int) -> MemorySink:
    settings = settings_for(city, data)
    sink, report = backfill_to_memory(
        settings,
        load_registry(city.registry),
        [city.replay],
        lambda: prior_baseline(settings),
        chunk_records=chunk_records,
    )
    assert report.flag_events == len(sink.flags) and report.incidents == len(sink.incidents)
    return sink


@pytest.fixture(scope="module")
def memory(city, tmp_path_factory) -> MemorySink:
    return in_memory(city, tmp_path_factory.mktemp("memory"), 100_000)


def test_memory_holds_the_flags_incidents_and_dead_letters_the_warehouse_gets(
    city, memory, tmp_path
):
    settings = settings_for(city, tmp_path)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        migrate(wh)
        backfill_files(settings, load_registry(city.registry), wh, [city.replay])
        db = wh.database
        flags = wh.query(f"SELECT flag_id, version, status FROM {db}.flags FINAL")
        incidents = wh.query(f"SELECT incident_id, n_alerts FROM {db}.incidents FINAL")
        dead = wh.query(f"SELECT reason, alert_id, detail FROM {db}.deadletters FINAL")
    assert memory.flags and memory.incidents and memory.deadletters
    newest = {}  # the table keeps a flag's newest version
    for f in sorted(memory.flags, key=lambda f: f.version):
        newest[f.flag_id] = (f.flag_id, f.version, f.status)
    assert sorted(flags) == sorted(newest.values())
    assert sorted(incidents) == sorted((i.incident_id, i.n_alerts) for i in memory.incidents)
    assert sorted(dead) == sorted(
        (d.reason.value, d.alert_id or "", d.detail) for d in memory.deadletters
    )


def test_results_do_not_depend_on_the_chunk_size(city, memory, tmp_path):
    cut = in_memory(city, tmp_path, 97)  # cuts at odd places, mid-feed-run
    assert sorted(cut.flags, key=repr) == sorted(memory.flags, key=repr)
    assert sorted(cut.incidents, key=repr) == sorted(memory.incidents, key=repr)


def test_the_flush_closes_every_flag(memory):
    opened = {f.flag_id for f in memory.flags if f.status == "open"}
    closed = {f.flag_id for f in memory.flags if f.status == "close"}
    assert opened and opened == closed


def test_alerts_are_kept_only_when_asked():
    with pytest.raises(ValueError, match="keep_alerts=True"):
        MemorySink().stored_alerts()
    assert len(MemorySink(keep_alerts=True).stored_alerts()) == 0
