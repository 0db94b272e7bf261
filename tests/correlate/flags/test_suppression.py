"""Greedy suppression kernel against a plain Python reference."""

import numpy as np
import pytest

from pipeline.correlate.flags.suppression import hot_cells, suppress_near


def _reference(cx, cy, tx, ty, r):
    taken = list(zip(tx.tolist(), ty.tolist(), strict=True))
    chosen = []
    for k, here in enumerate(zip(cx.tolist(), cy.tolist(), strict=True)):
        if any((a - here[0]) ** 2 + (b - here[1]) ** 2 <= r**2 for a, b in taken):
            continue
        chosen.append(k)
        taken.append(here)
    return chosen


@pytest.mark.parametrize("seed", range(20))
def test_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(0, 300), rng.integers(0, 30)
    cx, cy = rng.integers(-40, 40, n), rng.integers(-40, 40, n)
    tx, ty = rng.integers(-40, 40, m), rng.integers(-40, 40, m)
    r = float(rng.choice([0.0, 1.0, 2.0, 2.5, 6.0]))
    assert suppress_near(cx, cy, tx, ty, r).tolist() == _reference(cx, cy, tx, ty, r)


def test_boundary_distance_is_suppressed():
    # (3, 4) is exactly 5 cells from the taken origin: within the radius, so suppressed.
    assert suppress_near(
        np.array([3, 6]), np.array([4, 0]), np.zeros(1), np.zeros(1), 5.0
    ).tolist() == [1]


def test_misaligned_arrays_are_rejected():
    with pytest.raises(ValueError, match="aligned"):
        suppress_near(np.zeros(2), np.zeros(3), np.zeros(0), np.zeros(0), 1.0)


def _hot_reference(significant, score, count, expected, ix, iy, tx, ty, thresholds, r):
    """What flags selected in NumPy before the kernel: hot rows, lexsorted by (-score,
    cell), then suppressed."""
    open_score, min_count, ratio = thresholds
    hot = significant & (score >= open_score) & (count >= min_count) & (count >= ratio * expected)
    cand = np.flatnonzero(hot)
    cell = ix * 1000 + iy  # rows are sorted by cell id
    cand = cand[np.lexsort((cell[cand], -score[cand]))]
    return cand[suppress_near(ix[cand], iy[cand], tx, ty, r)].tolist()


@pytest.mark.parametrize("seed", range(40))
def test_hot_cells_match_the_numpy_selection(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(0, 200)), int(rng.integers(0, 10))
    cells = np.unique(np.stack([rng.integers(-20, 20, n), rng.integers(-20, 20, n)], 1), axis=0)
    ix, iy = cells[:, 0].copy(), cells[:, 1].copy()
    k = len(ix)
    score = rng.choice([2.0, 3.0, 4.5, 4.5, 8.0], k) * rng.choice([1.0, 1.0, rng.random()], k)
    count = rng.integers(0, 12, k)
    expected = rng.choice([0.5, 2.0, 5.0], k)
    significant = rng.random(k) < 0.8
    tx, ty = rng.integers(-20, 20, m), rng.integers(-20, 20, m)
    thresholds = (3.0, 2, 2.0)
    r = float(rng.choice([0.0, 1.5, 4.0]))
    got = hot_cells((significant, score, count, expected, ix, iy), tx, ty, thresholds, r)
    want = _hot_reference(significant, score, count, expected, ix, iy, tx, ty, thresholds, r)
    assert got.tolist() == want


def _tiled_reference(significant, score, count, expected, ix, iy, tx, ty, thresholds, r, side):
    """The selection tile by tile: the choice in each tile sees only that tile's cells."""

    def tile(a, b):
        return (np.floor((a + 0.5) / side).astype(int), np.floor((b + 0.5) / side).astype(int))

    cand_tiles, taken_tiles = tile(ix, iy), tile(tx, ty)
    chosen = []
    for key in set(zip(*cand_tiles, strict=True)):  # loop per tile, a reference only
        rows = np.flatnonzero((cand_tiles[0] == key[0]) & (cand_tiles[1] == key[1]))
        here = (taken_tiles[0] == key[0]) & (taken_tiles[1] == key[1])
        got = _hot_reference(
            significant[rows], score[rows], count[rows], expected[rows], ix[rows], iy[rows],
            tx[here], ty[here], thresholds, r,
        )  # fmt: skip
        chosen += rows[got].tolist()
    return sorted(chosen)


def _random_board(rng: np.random.Generator):
    """Up to 200 distinct cells on a 40 x 40 board with scores around the open bar (3), and a
    number (under 10) of taken cells to draw."""
    n, m = int(rng.integers(0, 200)), int(rng.integers(0, 10))
    cells = np.unique(np.stack([rng.integers(-20, 20, n), rng.integers(-20, 20, n)], 1), axis=0)
    ix, iy = cells[:, 0].copy(), cells[:, 1].copy()
    k = len(ix)
    score = rng.choice([3.0, 4.5, 8.0], k) * rng.choice([1.0, rng.random()], k) + rng.random(k)
    return ix, iy, score, m


@pytest.mark.parametrize("seed", range(30))
def test_hot_cells_merge_only_within_a_tile(seed):
    """Merging inside tiles: the choice is the union of each tile's own choice, so a partition
    holding whole tiles chooses alone what the whole city would (issue 23, item 2)."""
    rng = np.random.default_rng(seed)
    ix, iy, score, m = _random_board(rng)
    k = len(ix)
    count, expected = rng.integers(0, 12, k), rng.choice([0.5, 2.0], k)
    significant = rng.random(k) < 0.8
    tx, ty = rng.integers(-20, 20, m), rng.integers(-20, 20, m)
    r, side = float(rng.choice([1.5, 4.0])), float(rng.choice([4.0, 16.0]))
    cols = (significant, score, count, expected, ix, iy)
    got = hot_cells(cols, tx, ty, (3.0, 2, 2.0), r, side)
    want = _tiled_reference(*cols, tx, ty, (3.0, 2, 2.0), r, side)
    assert sorted(got.tolist()) == want
    # one tile over the whole board (coordinates shifted to >= 0) is the city-wide choice
    shifted = (significant, score, count, expected, ix + 20, iy + 20)
    assert (
        hot_cells(shifted, tx + 20, ty + 20, (3.0, 2, 2.0), r, 1e6).tolist()
        == hot_cells(cols, tx, ty, (3.0, 2, 2.0), r).tolist()
    )


def _apart_reference(cx, cy, cs, tx, ty, ts, r, a):
    """Greedy choice in priority order with the ``merge_apart_m`` exemption: a taken cell
    farther than ``a`` holds a candidate back only if it scores at least as high."""
    taken = list(zip(tx.tolist(), ty.tolist(), ts.tolist(), strict=True))
    chosen = []
    for k, (x, y, s) in enumerate(zip(cx.tolist(), cy.tolist(), cs.tolist(), strict=True)):
        held = [
            (u - x) ** 2 + (v - y) ** 2 <= r**2
            and not ((u - x) ** 2 + (v - y) ** 2 > a**2 and s > w)
            for u, v, w in taken
        ]
        if any(held):
            continue
        chosen.append(k)
        taken.append((x, y, s))
    return chosen


@pytest.mark.parametrize("seed", range(40))
def test_hot_cells_apart_and_stronger_open_their_own(seed):
    """With ``apart_cells`` a candidate beyond it that outscores a taken cell is not held back
    by that cell; 0 gives the plain choice whatever the taken scores."""
    rng = np.random.default_rng(seed)
    ix, iy, score, m = _random_board(rng)
    k = len(ix)
    count, expected = rng.integers(2, 12, k), np.full(k, 0.5)
    significant = np.ones(k, bool)
    tx, ty = rng.integers(-20, 20, m), rng.integers(-20, 20, m)
    ts = rng.choice([3.0, 6.0, 12.0], m)
    r, a = float(rng.choice([2.0, 4.0])), float(rng.choice([1.0, 2.0]))
    cols = (significant, score, count, expected, ix, iy)
    got = hot_cells(cols, tx, ty, (3.0, 2, 2.0), r, 0.0, ts, a)
    cand = np.lexsort((ix * 1000 + iy, -score))
    cand = cand[score[cand] >= 3.0]
    want = cand[_apart_reference(ix[cand], iy[cand], score[cand], tx, ty, ts, r, a)]
    assert got.tolist() == want.tolist()
    assert hot_cells(cols, tx, ty, (3.0, 2, 2.0), r, 0.0, ts, 0.0).tolist() == (
        hot_cells(cols, tx, ty, (3.0, 2, 2.0), r).tolist()
    )


def test_a_stronger_cell_apart_from_a_flag_opens_a_weaker_or_closer_one_does_not():
    one = np.ones(3, bool), np.array([9.0, 5.0, 9.0]), np.full(3, 8), np.ones(3)
    ix, iy = np.array([3, 3, 1]), np.array([0, 1, 0])
    taken = np.zeros(1, np.int64), np.zeros(1, np.int64)
    # cell (3, 0) is 3 cells from the flag at (0, 0) and outscores it (9 > 6); (3, 1) is held
    # back by the cell chosen before it; (1, 0) lies within 2 cells of the flag.
    got = hot_cells((*one, ix, iy), *taken, (3.0, 2, 2.0), 4.0, 0.0, np.array([6.0]), 2.0)
    assert got.tolist() == [0]
    assert (
        hot_cells((*one, ix, iy), *taken, (3.0, 2, 2.0), 4.0, 0.0, np.array([9.5]), 2.0).size == 0
    )
