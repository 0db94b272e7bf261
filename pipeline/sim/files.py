"""A simulation written to a folder: registry.geojson, replay.jsonl and truth.json.

This is what ``hotspot simulate`` and the demo call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.sim.city import CityConfig, build_city
from pipeline.sim.config import SHANGHAI, FaultRates, Hotspot, SimConfig
from pipeline.sim.registry import write_cameras, write_registry
from pipeline.sim.simulate import simulate
from pipeline.sim.truth import write_truth
from pipeline.sim.writer import write_replay_jsonl

__all__ = ["SimulationFiles", "run_simulation"]


@dataclass(frozen=True, slots=True)
class SimulationFiles:
    registry: Path
    replay: Path
    truth: Path
    records: int


def run_simulation(
    out_dir: Path,
    *,
    seed: int = 0,
    duration: timedelta = timedelta(days=1),
    scale: float = 1.0,
    start: datetime = datetime(2026, 3, 1, tzinfo=SHANGHAI),
    n_hotspots: int = 4,
    hotspots: tuple[Hotspot, ...] | None = None,
    faults: FaultRates | None = None,
    city: CityConfig | None = None,
    hotspot_max_p: float | None = None,
) -> SimulationFiles:
    """Build the city (seeded by ``seed`` too unless ``city`` is given), simulate, write files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    town = build_city(city or CityConfig(seed=seed))
    cfg = SimConfig(
        seed=seed,
        start=start,
        duration=duration,
        scale=scale,
        n_hotspots=n_hotspots,
        hotspots=hotspots,
        faults=faults if faults is not None else FaultRates(),
        **({} if hotspot_max_p is None else {"hotspot_max_p": hotspot_max_p}),
    )
    sim = simulate(town, cfg)
    files = SimulationFiles(
        out_dir / "registry.geojson", out_dir / "replay.jsonl", out_dir / "truth.json", 0
    )
    write_registry(town, files.registry)
    # beside the registry: the worker loads data_dir/cameras.csv (setting cameras_path)
    write_cameras(town, files.registry.with_name("cameras.csv"))
    n = write_replay_jsonl(sim.records(), files.replay)
    write_truth(sim.truth, files.truth)
    return SimulationFiles(files.registry, files.replay, files.truth, n)
