"""Disk baselines: each history event credited to every disk holding it, as the scan counts."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.correlate.baseline.disks import disk_km2, disk_members
from pipeline.correlate.baseline.history import fit_cell_hours, fit_disks
from pipeline.correlate.baseline.model import hour_of_week
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.params import CorrelationParams
from pipeline.correlate.scan.scoring import _expected_counts

MONDAY_CST = 1_704_038_400_000  # 2024-01-01T00:00+08:00, a Monday
H = 3_600_000


@pytest.mark.parametrize("radius", [250.0, 500.0, 333.0])
def test_disk_members_match_brute_force(radius):
    rng = np.random.default_rng(7)
    lattice = Lattice(250.0)
    x, y = rng.uniform(-2000, 2000, 500), rng.uniform(-2000, 2000, 500)
    x[:4] = [0.0, 125.0, 375.0, -125.0]  # on cell edges and centres: the <= test decides
    y[:4] = [0.0, 125.0, 125.0, 375.0]
    point, cell = disk_members(x, y, lattice, radius)
    got = set(zip(point.tolist(), cell.tolist(), strict=True))
    gx, gy = np.meshgrid(np.arange(-12, 12), np.arange(-12, 12), indexing="ij")
    gix, giy = gx.ravel(), gy.ravel()
    cx, cy = lattice.centre(gix, giy)
    ids = lattice.cell_id(gix, giy)
    want = {
        (i, int(c))
        for i in range(len(x))
        for c in ids[(cx - x[i]) ** 2 + (cy - y[i]) ** 2 <= radius**2]
    }
    assert got == want
    assert np.all(np.diff(point) >= 0)


def test_point_source_in_a_diagonal_cell_is_expected_where_it_is_counted():
    """Regression: expectations averaged the cells whose centres lie in a disk, so a busy camera
    in the corner of a diagonal neighbour was counted in the disk but expected at ~1/5 of the
    rate of an empty cell: the cell looked several times hotter than its baseline all day."""
    lattice = Lattice(250.0)
    params = CorrelationParams()
    start, end = MONDAY_CST, MONDAY_CST + 7 * 24 * H
    t = np.arange(start, end, 360_000)  # a camera firing every 6 min for a week: 10 an hour
    cam_x, cam_y = np.full(len(t), 260.0), np.full(len(t), 260.0)  # cell (1, 1), near (0, 0)
    # 177 m from the centre of cell (0, 0): inside its 250 m disk, whose cells are (0, 0) and
    # its four edge neighbours, not (1, 1).
    assert (260 - 125) ** 2 * 2 <= 250.0**2
    ix, iy = lattice.index(cam_x, cam_y)
    cells = fit_cell_hours(
        lattice.cell_id(ix, iy), t, start, end, lattice.cell_km2, utc_offset_min=480
    )
    probe = (np.array([0]), np.array([0]))
    window = (MONDAY_CST + 7 * 24 * H + 10 * H, MONDAY_CST + 7 * 24 * H + 10 * H + 1_800_000)
    averaged = _expected_counts(cells, lattice, *probe, *window, 250.0, params)[0]
    cells.disks = fit_disks(
        cam_x, cam_y, t, start, end, lattice, (250.0, 500.0), utc_offset_min=480
    )
    whole = _expected_counts(cells, lattice, *probe, *window, 250.0, params)[0]
    assert averaged < 1.0  # the old way: the camera's 5 alerts per half hour went unexpected
    assert whole == pytest.approx(5.0, rel=0.05)
    rate = cells.disk_rates(lattice.cell_id(*probe), int(hour_of_week(window[0], 480)), 250.0)
    assert rate[0] * disk_km2(250.0) == pytest.approx(10.0, rel=0.05)
    assert cells.disk_rates(lattice.cell_id(*probe), 0, 300.0) is None  # radius not fitted
