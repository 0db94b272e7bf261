from datetime import timedelta

import pytest

from pipeline.sim import CityConfig, SimConfig, build_city, simulate


@pytest.fixture(scope="session")
def city():
    """The default-sized city (6 districts, 40k households, 3000 cameras)."""
    return build_city(CityConfig(seed=11))


@pytest.fixture(scope="session")
def day(city):
    """One simulated day at scale 1 with default faults and drawn hotspots."""
    return simulate(city, SimConfig(seed=5))


@pytest.fixture(scope="session")
def day_records(day):
    return list(day.records())


@pytest.fixture(scope="session")
def small_city():
    return build_city(CityConfig(seed=3, households=6_000, cameras=600))


@pytest.fixture(scope="session")
def short_config():
    return SimConfig(seed=9, duration=timedelta(hours=6), scale=0.5)
