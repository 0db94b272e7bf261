"""Scale counts kept up to date equal the batch join of the window's rows, bit for bit: at
every boundary, over random streams, batch cuts, idle gaps and restores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate import Baseline, CorrelationParams, Correlator
from pipeline.correlate.exceptions import CorrelationError
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.scan.scale_counts import Rows, ScaleCounts
from pipeline.correlate.scan.scoring import CellScores, score_cells, score_scale_counts
from pipeline.correlate.window.buffer import quantise_severity

from ..helpers import MIN, PROJECTION, T0, city_scenario

BASELINE = Baseline(0.0625, 2.0)


def assert_same_scores(a: CellScores, b: CellScores) -> None:
    for field in dataclasses.fields(CellScores):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "new_test" and (x is None or y is None):
            continue  # the batch reference is not told what entered (scan.new_tests)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, field.name
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), field.name
        else:
            assert x == y, field.name


def assert_same_tables(a: ScaleCounts, b: ScaleCounts) -> None:
    ta, tb = a.table(), b.table()
    for name in ta:
        assert np.array_equal(ta[name], tb[name]), name


# --- the module on its own: any rows, any boundaries --------------------------------------------


def _stream(draw, n: int) -> dict[str, np.ndarray]:
    """Rows in canonical order; half of them on a 62.5 m grid, so some lie exactly ``r`` from a
    cell centre (the ``<=`` of the join must hold there too)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    on_grid = rng.random(n) < 0.5
    x = np.where(on_grid, rng.integers(-16, 16, n) * 62.5, rng.uniform(-1000, 1000, n))
    y = np.where(on_grid, rng.integers(-16, 16, n) * 62.5, rng.uniform(-1000, 1000, n))
    span = draw(st.integers(1, 240)) * MIN
    t = np.sort(T0 + rng.integers(0, span, n))
    sev = quantise_severity(rng.uniform(0.01, 1.0, n).astype(np.float32))
    return {
        "x": x,
        "y": y,
        "source": rng.integers(0, 4, n).astype(np.int8),
        "severity": sev,
        "event_ms": t,
    }


PARAM_SETS = [
    CorrelationParams(),
    # The longest scale shorter than the window: it stands for the whole window, as in batch.
    CorrelationParams(window_s=1200, windows_s=(180, 600), radii_m=(100.0, 300.0, 500.0)),
    CorrelationParams(window_s=600, slide_s=120, cell_m=200.0, windows_s=(600,), radii_m=(400.0,)),
]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_kept_counts_equal_the_batch_join_at_every_boundary(data):
    params = data.draw(st.sampled_from(PARAM_SETS))
    lattice = Lattice(params.cell_m)
    rows = _stream(data.draw, data.draw(st.integers(0, 300)))

    def source(lo: int, hi: int) -> Rows:
        keep = (rows["event_ms"] > lo) & (rows["event_ms"] <= hi)
        return Rows.of({k: v[keep] for k, v in rows.items()})

    counts = ScaleCounts(params, lattice)
    b = T0 - T0 % params.slide_ms
    for _ in range(data.draw(st.integers(1, 25))):
        # Mostly the next boundary; sometimes a jump (an idle gap, up to past the window).
        step = data.draw(st.sampled_from([1, 1, 1, 2, 7, 40]))
        b += step * params.slide_ms
        counts.advance(b, source)
        window = source(b - params.window_ms, b).cols
        # Open flags' cells: some near the events, one far from any.
        near = data.draw(st.lists(st.integers(-8, 8), min_size=2, max_size=6))
        ix = np.array([*near[: len(near) // 2], 40], np.int64)
        iy = np.array([*near[len(near) // 2 :][: len(ix) - 1], 3], np.int64)
        extra = lattice.cell_id(ix[: len(iy)], iy)
        assert_same_scores(
            score_scale_counts(counts, extra, lattice, BASELINE, b, params),
            score_cells(window, extra, lattice, BASELINE, b, params),
        )
        fresh = ScaleCounts(params, lattice)  # what a restore rebuilds
        fresh.advance(b, source)
        assert_same_tables(counts, fresh)
        counts.retire(b + params.slide_ms, source)
    counts.retire(b + params.window_ms, source)
    assert len(counts) == 0  # every event left every window: nothing is kept


def test_many_cells_grow_and_compact_the_table():
    params = CorrelationParams()
    lattice = Lattice(params.cell_m)
    rng = np.random.default_rng(1)
    n = 20_000  # spread out: ~20 cells each, far more than the first tables hold
    rows = {
        "x": rng.uniform(-30_000, 30_000, n),
        "y": rng.uniform(-30_000, 30_000, n),
        "source": rng.integers(0, 4, n).astype(np.int8),
        "severity": quantise_severity(rng.uniform(0.01, 1.0, n).astype(np.float32)),
        "event_ms": np.sort(T0 + rng.integers(0, 60 * MIN, n)),
    }

    def source(lo: int, hi: int) -> Rows:
        a, z = np.searchsorted(rows["event_ms"], [lo, hi], side="right")
        return Rows.of({k: v[a:z] for k, v in rows.items()})

    counts = ScaleCounts(params, lattice)
    for b in range(T0 + 30 * MIN, T0 + 100 * MIN, params.slide_ms):
        counts.advance(b, source)
        if b % (20 * MIN) == 0:
            fresh = ScaleCounts(params, lattice)
            fresh.advance(b, source)
            assert_same_tables(counts, fresh)
            assert len(counts) > 10_000
        counts.retire(b + params.slide_ms, source)
    assert len(counts) == 0


# --- in the engine: every boundary checked against the batch scoring ------------------------------


class CheckedCorrelator(Correlator):
    """Scores every boundary both ways and insists they agree; counts the boundaries."""

    checked = 0

    def _scores(self, b):
        kept = super()._scores(b)
        # The window's events (their burst statuses are decided at this boundary already),
        # joined afresh by the batch reference.
        buf = self._buffer
        lo, hi = buf.through(b - self.params.window_ms), buf.through(b)
        counted = (buf.col("severity")[lo:hi] > 0) & (buf.col("repeat")[lo:hi] == 0)
        idx = lo + np.flatnonzero(counted)
        rows = {k: buf.col(k)[idx] for k in ("x", "y", "event_ms", "source", "severity")}
        batch = score_cells(
            rows, self._flags.open_cells(), self.lattice, self.baseline, b, self.params
        )
        assert_same_scores(kept, batch)
        CheckedCorrelator.checked += 1
        return kept


PARAMS = CorrelationParams(open_score=7.0, close_score=3.0, bh_q=0.01)


def _scene(seed: int, gap_min: int):
    """A city stream whose second half starts ``gap_min`` minutes later (an idle gap)."""
    scene, rate = city_scenario(seed=seed, hours=1.5)
    t = scene.event_ms.copy()
    half = T0 + 45 * MIN
    t[t > half] += gap_min * MIN
    return dataclasses.replace(scene, event_ms=t), rate


@settings(max_examples=10, deadline=None)
@given(
    st.integers(0, 2**16),
    st.sampled_from([0, 3, 45]),
    st.sets(st.integers(1, 400), max_size=12),
    st.integers(0, 12),
)
def test_engine_scores_equal_batch_scores_through_gaps_and_a_restore(seed, gap, edges, at):
    scene, rate = _scene(seed, gap)
    edges = [0, *sorted(e for e in edges if e < len(scene)), len(scene)]
    batches = [scene.take(np.arange(a, z)) for a, z in zip(edges[:-1], edges[1:], strict=True)]
    at = min(at, len(batches))

    def fresh() -> Correlator:
        return CheckedCorrelator(PARAMS, PROJECTION, Baseline(0.0625, rate))

    live, split = fresh(), fresh()
    flush = int(scene.event_ms.max()) + 60 * MIN
    CheckedCorrelator.checked = 0
    live_flags = []
    for batch in batches:
        live_flags += live.process(batch).flags
    live_flags += live.advance_to(flush).flags
    split_flags = []
    for batch in batches[:at]:
        split_flags += split.process(batch).flags
    restored = CheckedCorrelator.restore(
        split.snapshot(), PARAMS, PROJECTION, Baseline(0.0625, rate)
    )
    for batch in batches[at:]:
        split_flags += restored.process(batch).flags
    split_flags += restored.advance_to(flush).flags
    assert split_flags == live_flags
    assert any(f.status == "open" for f in live_flags)  # open flags' cells were scored too
    assert CheckedCorrelator.checked > 40  # the boundaries of both runs were compared


def test_restored_counts_equal_the_live_ones():
    scene, rate = city_scenario(seed=5, hours=1.0)
    cut = np.searchsorted(scene.event_ms, T0 + 35 * MIN)
    live = Correlator(PARAMS, PROJECTION, Baseline(0.0625, rate))
    live.process(scene.take(np.arange(cut)))
    restored = Correlator.restore(live.snapshot(), PARAMS, PROJECTION, Baseline(0.0625, rate))
    rest = scene.take(np.arange(cut, len(scene)))
    live.process(rest)
    restored.process(rest)
    assert len(live._scale_counts) > 100
    assert_same_tables(live._scale_counts, restored._scale_counts)


def test_coordinates_that_are_not_metres_are_refused():
    params = CorrelationParams()
    counts = ScaleCounts(params, Lattice(params.cell_m))
    rows = {
        "x": np.array([3.0e11]),
        "y": np.array([0.0]),
        "source": np.zeros(1, np.int8),
        "severity": np.ones(1, np.float32),
        "event_ms": np.array([T0]),
    }
    with pytest.raises(ValueError, match="metres"):
        counts.advance(T0 + params.slide_ms, lambda lo, hi: Rows.of(rows))


def test_rows_with_an_undecided_burst_status_are_refused_before_any_count_moves():
    params = CorrelationParams()
    counts = ScaleCounts(params, Lattice(params.cell_m))
    events = {
        "x": np.array([10.0, 20.0]),
        "y": np.array([0.0, 0.0]),
        "source": np.zeros(2, np.int8),
        "severity": np.ones(2, np.float32),
        "event_ms": np.array([T0, T0 + 1]),
        "repeat": np.array([0, -1], np.int8),
    }
    with pytest.raises(CorrelationError, match="undecided"):
        counts.advance(T0 + params.slide_ms, lambda lo, hi: Rows(events, 0, 2))
    assert len(counts) == 0
