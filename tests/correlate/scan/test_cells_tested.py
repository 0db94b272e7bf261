"""The cells a run of boundaries tests, found without scoring, are the cells that scoring the
kept scale counts tests at each of those boundaries: over random rows (some exactly a radius
from a cell centre), parameter sets and runs of boundaries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlate.exceptions import CorrelationError
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.scan.cells_tested import cells_tested
from pipeline.correlate.scan.scale_counts import Rows, ScaleCounts
from pipeline.correlate.scan.scoring import score_scale_counts

from ..helpers import T0
from .test_scale_counts import BASELINE, PARAM_SETS, _stream


def _scored_tested(params, rows, boundaries) -> list[np.ndarray]:
    """The reference: per boundary, the cells scoring marks tested (counts rebuilt there)."""
    lattice = Lattice(params.cell_m)

    def source(lo: int, hi: int) -> Rows:
        keep = (rows["event_ms"] > lo) & (rows["event_ms"] <= hi)
        return Rows.of({k: v[keep] for k, v in rows.items()})

    out = []
    for b in boundaries.tolist():
        counts = ScaleCounts(params, lattice)
        counts.advance(b, source)
        scores = score_scale_counts(counts, np.empty(0, np.int64), lattice, BASELINE, b, params)
        out.append(scores.cell_id[scores.tested])
    return out


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_the_cells_tested_at_each_boundary_are_those_scoring_tests(data):
    params = data.draw(st.sampled_from(PARAM_SETS))
    rows = _stream(data.draw, data.draw(st.integers(0, 40)))
    rows["repeat"] = np.zeros(len(rows["x"]), np.int8)
    rows["repeat"][::5] = 1  # repeats count nowhere
    rows["severity"][1::7] = 0  # nor do alerts without severity
    last = int(rows["event_ms"].max()) if len(rows["x"]) else T0
    first = last - last % params.slide_ms + params.slide_ms
    n = data.draw(st.integers(1, 2 * params.window_ms // params.slide_ms))
    boundaries = first + params.slide_ms * np.arange(n, dtype=np.int64)
    min_count = data.draw(st.integers(1, 3))
    params = dataclasses.replace(params, min_count=min_count)
    ids = cells_tested(
        rows,
        (0, len(rows["x"])),
        boundaries,
        params.window_ms,
        max(params.radii_m),
        params.cell_m,
        min_count,
    )
    events = rows["repeat"] == 0  # the reference's rows are all events (Rows.of)
    expected = _scored_tested(params, {k: v[events] for k, v in rows.items()}, boundaries)
    # Each boundary's cells once, boundary after boundary: the same multiset of cell tests.
    assert np.array_equal(np.sort(ids), np.sort(np.concatenate(expected))), (ids, expected)


def test_a_pair_is_tested_while_both_are_in_the_window_and_not_after():
    cols = {
        "x": np.array([10.0, 300.0, 5000.0]),
        "y": np.zeros(3),
        "severity": np.ones(3, np.float32),
        "repeat": np.zeros(3, np.int8),
        "event_ms": np.array([0, 60_000, 60_000]),
    }
    boundaries = np.array([60_000, 1_799_999 + 1, 1_860_000])
    ids = cells_tested(cols, (0, 3), boundaries, 1_800_000, 500.0, 250.0, 2)
    lattice = Lattice(250.0)
    pair = lattice.cell_id(np.array([0, 1]), np.array([0, 0]))
    # At 60 s both cells of the pair; at 30 min the first alert has left: nothing.
    assert ids.tolist() == pair.tolist()


def test_an_undecided_burst_status_is_a_bug_and_says_so():
    cols = {
        "x": np.zeros(2),
        "y": np.zeros(2),
        "severity": np.ones(2, np.float32),
        "repeat": np.array([0, -1], np.int8),
        "event_ms": np.array([0, 1]),
    }
    with pytest.raises(CorrelationError, match="undecided"):
        cells_tested(cols, (0, 2), np.array([60_000]), 1_800_000, 500.0, 250.0, 2)


def test_rows_after_the_first_boundary_are_refused():
    cols = {
        "x": np.zeros(2),
        "y": np.zeros(2),
        "severity": np.ones(2, np.float32),
        "repeat": np.zeros(2, np.int8),
        "event_ms": np.array([0, 120_000]),
    }
    with pytest.raises(ValueError, match="first boundary"):
        cells_tested(cols, (0, 2), np.array([60_000]), 1_800_000, 500.0, 250.0, 2)


def test_an_event_exactly_the_radius_from_a_cell_centre_counts_there():
    # 125 m is the centre of cell 0 (250 m cells), 625 m that of cell 2: 500 m apart, the
    # radius, and "within" includes it, as scale_counts' dx*dx + dy*dy <= r*r does.
    cols = {
        "x": np.array([125.0, 625.0]),
        "y": np.array([125.0, 125.0]),
        "severity": np.ones(2, np.float32),
        "repeat": np.zeros(2, np.int8),
        "event_ms": np.array([0, 1]),
    }
    ids = cells_tested(cols, (0, 2), np.array([60_000]), 1_800_000, 500.0, 250.0, 2)
    assert ids.tolist() == Lattice(250.0).cell_id(np.array([0, 2]), np.array([0, 0])).tolist()
