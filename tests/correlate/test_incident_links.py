"""Incremental incident linking (LinkMemo) gives the roots of linking every row afresh."""

import numpy as np
import pytest

from pipeline.correlate.buffer import alert_keys
from pipeline.correlate.incidents import LinkMemo, link_components, link_components_since

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
    memo = LinkMemo()
    pending = _rows(rng, 0, 0, 1)
    for step in range(5):  # each boundary adds rows, drops consumed ones
        t0 = step * 400_000  # steps shorter than GAP, so old rows both can and cannot link
        pending = _concat(pending, _rows(rng, int(rng.integers(0, 120)), t0, t0 + 400_000))
        x, y, t, keys = pending
        order = np.lexsort((keys, t))
        x, y, t, keys = x[order], y[order], t[order], keys[order]
        roots = link_components_since(x, y, t, RADIUS, GAP, memo.known_roots(keys))
        assert np.array_equal(roots, link_components(x, y, t, RADIUS, GAP))
        heads = np.unique(roots)
        consumed = np.isin(roots, heads[rng.random(len(heads)) < 0.3])
        memo.remember(keys, roots, consumed)
        pending = tuple(a[~consumed] for a in (x, y, t, keys))


def test_an_empty_memo_links_every_row():
    keys = alert_keys(np.array(["a", "b", "c"], dtype=object))
    assert LinkMemo().known_roots(keys).tolist() == [-1, -1, -1]
