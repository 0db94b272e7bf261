import json
from datetime import timedelta

from pipeline.sim import CityConfig, FaultRates, read_replay_jsonl, run_simulation


def test_run_simulation_writes_the_three_files(tmp_path):
    files = run_simulation(
        tmp_path / "out",
        seed=3,
        duration=timedelta(hours=3),
        scale=0.3,
        n_hotspots=2,
        city=CityConfig(seed=3, households=3_000, cameras=300),
    )
    assert files.registry.name == "registry.geojson" and files.replay.name == "replay.jsonl"
    registry = json.loads(files.registry.read_text())
    assert registry["type"] == "FeatureCollection" and len(registry["features"]) > 1000
    truth = json.loads(files.truth.read_text())
    assert truth["seed"] == 3 and truth["config"]["scale"] == 0.3
    assert truth["config"]["duration"] == 3 * 3600
    assert len(truth["city"]["bbox"]) == 4 and len(truth["hotspots"]) == 2
    assert set(truth["faults"]) == {f for f in FaultRates.__dataclass_fields__}
    records = list(read_replay_jsonl(files.replay))
    assert len(records) == files.records == sum(truth["messages"].values())


def test_faults_can_be_switched_off(tmp_path):
    files = run_simulation(
        tmp_path,
        seed=4,
        duration=timedelta(hours=2),
        scale=0.2,
        faults=FaultRates.none(),
        city=CityConfig(seed=4, households=2_000, cameras=200),
    )
    truth = json.loads(files.truth.read_text())
    assert not any(truth["faults"].values())
    assert all(isinstance(json.loads(r.value), dict) for r in read_replay_jsonl(files.replay))
    assert '"raw"' not in files.replay.read_text()
