"""Incremental incident linking (roots remembered from the last boundary, as the engine keeps
them in its buffer) gives the roots of linking every row afresh."""

import numpy as np
import pytest

from pipeline.correlate.incidents.incident import link_components, link_components_since
from pipeline.correlate.window.buffer import alert_keys

RADIUS, GAP = 150.0, 600_000


def _rows(rng, n, t0, t1):
    t = np.sort(rng.integers(t0, t1, n))
    keys = alert_keys(np.array([f"a:{t0}:{i}" for i in range(n)], dtype=object))
    return rng.uniform(0, 1500, n), rng.uniform(0, 1500, n), t, keys


def _concat(a, b):
    return tuple(np.concatenate([u, v]) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("seed", range(8))
def test_roots_match_a_fresh_link_over_five_boundaries(seed):
    rng = np.random.default_rng(seed)
    root_of: dict[int, int] = {}  # alert key -> its root's key, for rows not yet consumed
    pending = _rows(rng, 0, 0, 1)
    for step in range(5):  # each boundary adds rows, drops consumed ones
        t0 = step * 400_000  # steps shorter than GAP, so old rows both can and cannot link
        pending = _concat(pending, _rows(rng, int(rng.integers(0, 120)), t0, t0 + 400_000))
        x, y, t, keys = pending
        order = np.lexsort((keys, t))
        x, y, t, keys = x[order], y[order], t[order], keys[order]
        row_of = {int(k): i for i, k in enumerate(keys)}
        known = np.array([row_of[root_of[int(k)]] if int(k) in root_of else -1 for k in keys])
        roots = link_components_since(x, y, t, RADIUS, GAP, known)
        assert np.array_equal(roots, link_components(x, y, t, RADIUS, GAP))
        heads = np.unique(roots)
        consumed = np.isin(roots, heads[rng.random(len(heads)) < 0.3])
        root_of = {int(keys[i]): int(keys[roots[i]]) for i in np.flatnonzero(~consumed)}
        pending = tuple(a[~consumed] for a in (x, y, t, keys))


def test_without_known_roots_every_row_is_linked_afresh():
    rng = np.random.default_rng(3)
    x, y, t, _ = _rows(rng, 80, 0, 900_000)
    fresh = link_components_since(x, y, t, RADIUS, GAP, np.full(80, -1))
    assert np.array_equal(fresh, link_components(x, y, t, RADIUS, GAP))
