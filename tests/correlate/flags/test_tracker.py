"""The flag state machine: open, update, hysteresis, close, merging of adjacent hot cells."""

from __future__ import annotations

import dataclasses

import jsonschema
import msgspec
import numpy as np

from pipeline.correlate.flags.details import RowIndex
from pipeline.correlate.flags.tracker import FlagEvent, FlagTracker, flag_id, flag_schema
from pipeline.correlate.lattice import Lattice
from pipeline.correlate.params import CorrelationParams
from pipeline.correlate.scan.scoring import CellScores

from ..helpers import MIN, PROJECTION, T0

LATTICE = Lattice(250.0)
# The hand-set scores below sit around 6; closing starts below 3. No recurrence bar (0): the
# cells open on Benjamini-Hochberg significance, as the hand-set ``significant`` says.
PARAMS = CorrelationParams(
    open_score=6.0, close_score=3.0, bh_q=0.01, cell_tests_per_day=1.1e6, min_recurrence_days=0.0
)


def scores(cells: dict[tuple[int, int], tuple]) -> CellScores:
    """CellScores from ``{(ix, iy): (count, score, significant[, expected])}``."""
    keys = sorted(cells, key=lambda c: LATTICE.cell_id(np.array([c[0]]), np.array([c[1]]))[0])
    ix = np.array([k[0] for k in keys], np.int64)
    iy = np.array([k[1] for k in keys], np.int64)
    vals = [cells[k] + (1.0,) * (4 - len(cells[k])) for k in keys]
    return CellScores(
        cell_id=LATTICE.cell_id(ix, iy),
        ix=ix,
        iy=iy,
        count=np.array([v[0] for v in vals]),
        n_sources=np.ones(len(keys), np.int64),
        mean_severity=np.full(len(keys), 0.5),
        expected=np.array([v[3] for v in vals]),
        p_value=np.full(len(keys), 1e-6),
        significant=np.array([v[2] for v in vals]),
        score=np.array([float(v[1]) for v in vals]),
        gi_z=np.full(len(keys), 2.5),
        window_s=np.full(len(keys), 1800, np.int64),
        radius_m=np.full(len(keys), 500.0),
    )


def rows(n: int, x: float = 125.0, y: float = 125.0) -> RowIndex:
    return RowIndex(
        {
            "x": np.full(n, x),
            "y": np.full(n, y),
            "source": np.ones(n, np.int64),
            "category": np.full(n, 3, np.int64),
            "grid": np.full(n, 11, np.int32),
            "event_ms": T0 - np.arange(n, dtype=np.int64) * MIN,
        }
    )


def step(tracker, k, cells, n_rows):
    return [(e.status, e.version) for e in tracker.step(T0 + k * MIN, scores(cells), rows(n_rows))]


def test_lifecycle_with_hysteresis():
    t = FlagTracker(PARAMS, LATTICE, PROJECTION)
    a = (0, 0)
    assert step(t, 0, {a: (8, 8.0, True)}, 8) == [("open", 1)]
    assert step(t, 1, {a: (9, 9.0, True)}, 9) == [("update", 2)]
    assert step(t, 2, {a: (9, 9.5, True)}, 9) == []  # same counts, score moved < 1
    assert step(t, 3, {a: (9, 4.0, False)}, 9) == [("update", 3)]  # between thresholds: open
    assert step(t, 4, {a: (9, 2.0, False)}, 9) == [("update", 4)]  # 1st below close_score
    assert step(t, 5, {a: (9, 3.5, False)}, 9) == [("update", 5)]  # back above: count resets
    assert step(t, 6, {a: (9, 2.0, False)}, 9) == [("update", 6)]
    assert step(t, 7, {a: (9, 2.0, False)}, 9) == []
    assert step(t, 8, {a: (9, 2.0, False)}, 9) == [("close", 7)]  # 3rd consecutive below
    assert len(t.open_cells()) == 0


def test_close_when_no_activity_and_event_content():
    t = FlagTracker(PARAMS, LATTICE, PROJECTION)
    [opened] = t.step(T0, scores({(4, -2): (8, 8.0, True, 1.5)}), rows(8, 1125.0, -375.0))
    assert opened.flag_id == flag_id(int(LATTICE.cell_id(np.array([4]), np.array([-2]))[0]), T0)
    x, y = PROJECTION.to_xy(np.array([opened.lat]), np.array([opened.lon]))
    np.testing.assert_allclose([x[0], y[0]], [1125.0, -375.0], atol=1e-6)
    assert (opened.observed, opened.expected, opened.gi_z, opened.radius_m) == (8, 1.5, 2.5, 500)
    assert opened.source_counts == {"dispatch_110": 8} and opened.grid == 11
    assert (opened.first_event_ms, opened.last_event_ms) == (T0 - 7 * MIN, T0)
    [closed] = t.step(T0 + MIN, scores({(4, -2): (0, 0.0, False)}), rows(0))
    assert (closed.status, closed.version, closed.flag_id) == ("close", 2, opened.flag_id)
    assert closed.first_event_ms is None and closed.observed == 0


def test_adjacent_hot_cells_make_one_flag_far_ones_their_own():
    t = FlagTracker(PARAMS, LATTICE, PROJECTION)
    events = t.step(
        T0,
        scores(
            {
                (0, 0): (8, 7.0, True),
                (1, 0): (9, 9.0, True),
                (3, 1): (8, 7.5, True),
                (20, 0): (8, 6.5, True),
            }
        ),
        rows(9),
    )
    cells = [LATTICE.unpack(np.array([e.cell_id]))[0][0] for e in events]
    assert [e.status for e in events] == ["open", "open"] and cells == [1, 20]
    # Later a neighbour gets hotter than the flag's cell: it feeds the open flag, no new one.
    events = t.step(
        T0 + MIN,
        scores({(1, 0): (9, 9.0, True), (2, 1): (20, 30.0, True), (20, 0): (8, 6.5, True)}),
        rows(9),
    )
    assert events == []


def test_merge_apart_m_lets_a_stronger_cell_beside_a_flag_open_its_own():
    """``merge_apart_m``: a hot cell within ``merge_radius_m`` (1000 m) of an open flag but
    farther than 500 m from its cell opens its own flag when it outscores the flag's cell now;
    a weaker one there, or a stronger one within 500 m, feeds the flag."""
    off = dataclasses.replace(PARAMS, merge_apart_m=0.0)
    apart = dataclasses.replace(PARAMS, merge_apart_m=500.0)
    for params, opened in ((off, []), (apart, [("open", 1)])):
        t = FlagTracker(params, LATTICE, PROJECTION)
        assert step(t, 0, {(0, 0): (8, 9.0, True)}, 8) == [("open", 1)]
        # (3, 0), 750 m away, weaker than the flag's cell: merged either way
        assert step(t, 1, {(0, 0): (8, 9.0, True), (3, 0): (8, 8.0, True)}, 8) == []
        # (2, 0), 500 m away (not farther than 500 m), stronger: merged either way
        assert step(t, 2, {(0, 0): (8, 9.0, True), (2, 0): (8, 12.0, True)}, 8) == []
        # (3, 0), stronger: its own flag only with merge_apart_m
        got = step(t, 3, {(0, 0): (8, 9.0, True), (3, 0): (8, 12.0, True)}, 8)
        assert got == opened and len(t.open_cells()) == 1 + len(opened)


def test_cells_that_are_not_clearly_hot_do_not_open():
    t = FlagTracker(PARAMS, LATTICE, PROJECTION)
    assert t.step(T0, scores({(0, 0): (8, 8.0, False)}), rows(8)) == []  # not BH-significant
    assert t.step(T0, scores({(0, 0): (1, 8.0, True)}), rows(1)) == []  # below min_count
    assert t.step(T0, scores({(0, 0): (8, 5.9, True)}), rows(8)) == []  # below open_score
    assert t.step(T0, scores({(0, 0): (8, 8.0, True, 4.5)}), rows(8)) == []  # < 2x expected


def test_state_round_trip_and_schema():
    t = FlagTracker(PARAMS, LATTICE, PROJECTION)
    [e] = t.step(T0, scores({(0, 0): (8, 8.0, True)}), rows(8))
    jsonschema.validate(msgspec.json.decode(e.to_json()), flag_schema())
    assert msgspec.json.decode(e.to_json(), type=FlagEvent) == e
    u = FlagTracker(PARAMS, LATTICE, PROJECTION)
    u.load_state(msgspec.json.decode(msgspec.json.encode(t.state())))
    assert step(u, 1, {(0, 0): (9, 9.0, True)}, 9) == step(t, 1, {(0, 0): (9, 9.0, True)}, 9)


def test_every_event_carries_its_recurrence_interval_and_a_minimum_gates_opening():
    """A flag at p = 1e-6 in a city tested 1.1 million times a day recurs by chance every
    1 / (1e-6 x 1.1e6) = 0.91 days (issue 23): it opens with a minimum of half a day, not with
    a minimum of one day, whatever its score."""
    from dataclasses import replace

    hot = {(0, 0): (8, 8.0, True)}
    [opened] = FlagTracker(replace(PARAMS, min_recurrence_days=0.5), LATTICE, PROJECTION).step(
        T0, scores(hot), rows(8)
    )
    assert opened.status == "open"
    assert opened.recurrence_days == 1 / (1e-6 * 1.1e6)
    assert (
        FlagTracker(replace(PARAMS, min_recurrence_days=1.0), LATTICE, PROJECTION).step(
            T0, scores(hot), rows(8)
        )
        == []
    )


def test_under_the_bar_a_flag_opens_at_a_new_test_whatever_benjamini_hochberg_says():
    """With a recurrence bar, the bar is the multiple-testing control (issue 23, item 2): a
    cell opens at p under it at a new test (an event entered it in the last slide), even where
    Benjamini-Hochberg over its partition's cells did not call it; a re-test opens nothing."""
    from dataclasses import replace

    gated = replace(PARAMS, min_recurrence_days=0.5)  # p <= 1.8e-6: the cells' 1e-6 passes
    not_bh = {(0, 0): (8, 8.0, False)}
    for new, opens in ((True, ["open"]), (False, [])):
        cells = replace(scores(not_bh), new_test=np.array([new]))
        events = FlagTracker(gated, LATTICE, PROJECTION).step(T0, cells, rows(8))
        assert [e.status for e in events] == opens
    # without the bar, Benjamini-Hochberg decides: not significant, not opened
    cells = replace(scores(not_bh), new_test=np.array([True]))
    assert FlagTracker(PARAMS, LATTICE, PROJECTION).step(T0, cells, rows(8)) == []


def test_recurrence_interval_of_an_underflowed_p_value_is_capped():
    from pipeline.correlate.params import MAX_RECURRENCE_DAYS

    days = PARAMS.recurrence_days(np.array([0.0, 1e-300, 1.0]))
    assert days.tolist() == [MAX_RECURRENCE_DAYS, MAX_RECURRENCE_DAYS, 1 / 1.1e6]
    assert PARAMS.open_p_max == 1.0  # no minimum here


def test_recurrence_settings_are_checked():
    import pytest

    from pipeline.correlate.exceptions import CorrelationError

    with pytest.raises(CorrelationError, match="hotspot evaluate"):
        CorrelationParams(cell_tests_per_day=0.0)
    with pytest.raises(CorrelationError, match="min_recurrence_days"):
        CorrelationParams(min_recurrence_days=-1.0)
    with pytest.raises(CorrelationError, match="merge_apart_m"):
        CorrelationParams(merge_apart_m=-1.0)
