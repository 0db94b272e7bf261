"""A synthetic city and its four alert feeds, with planted hotspots, bad input and ground truth.

A small city, one hour after midnight (grid reports come only in the daytime):

>>> from datetime import timedelta
>>> from pipeline.sim import CityConfig, SimConfig, build_city, simulate
>>> city = build_city(CityConfig(seed=1, households=2_000, cameras=200))
>>> sim = simulate(city, SimConfig(seed=1, duration=timedelta(hours=1), scale=0.2))
>>> sorted({record.topic for record in sim.records()})
['alerts.alarm_phone', 'alerts.camera', 'alerts.dispatch_110']

Or, in one call, a folder with ``registry.geojson``, ``replay.jsonl`` and ``truth.json``:
:func:`run_simulation`. ``SPARSE`` describes a sparse city (``hotspot simulate --sparse``).
"""

from pipeline.sim.city import City, CityConfig, build_city
from pipeline.sim.config import SHANGHAI, FaultRates, Hotspot, PerSource, SimConfig
from pipeline.sim.files import SimulationFiles, run_simulation
from pipeline.sim.presets import SPARSE, SparsePreset
from pipeline.sim.registry import registry_geojson, write_registry
from pipeline.sim.simulate import SimRecord, Simulation, scale_for_total, simulate
from pipeline.sim.truth import GroundTruth, write_truth
from pipeline.sim.writer import read_replay_jsonl, write_replay_jsonl

__all__ = [
    "SHANGHAI",
    "CityConfig",
    "City",
    "build_city",
    "registry_geojson",
    "write_registry",
    "Hotspot",
    "FaultRates",
    "PerSource",
    "SimConfig",
    "SimRecord",
    "Simulation",
    "simulate",
    "scale_for_total",
    "GroundTruth",
    "write_truth",
    "write_replay_jsonl",
    "read_replay_jsonl",
    "SimulationFiles",
    "run_simulation",
    "SPARSE",
    "SparsePreset",
]
