"""The Correlator end to end: hotspots found, late and duplicate alerts, bounded state,
snapshot/restore, and results independent of batch cuts and arrival order."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.alerts import AlertBatch
from pipeline.correlate import Baseline, CorrelationParams, Correlator
from pipeline.correlate.exceptions import InvalidBatchError, SnapshotError
from pipeline.correlate.params import EARLIER_DEFAULTS, RESTORE_ADOPTS
from pipeline.marks import NO_PROGRESS, Origins

from .helpers import MIN, PROJECTION, city_scenario, make_batch

# The thresholds these scenarios were written for (the defaults before disk baselines).
PARAMS = CorrelationParams(open_score=7.0, close_score=3.0, bh_q=0.01)
SCENE, RATE = city_scenario(seed=3)
FLUSH = 60 * MIN  # past the last alert: every window and incident gap has closed


def engine(params: CorrelationParams = PARAMS) -> Correlator:
    return Correlator(params, PROJECTION, Baseline(0.0625, RATE))


def run(batches: list[AlertBatch], c: Correlator | None = None):
    c = c or engine()
    incidents, flags, late = [], [], []
    for b in batches:
        out = c.process(b)
        incidents += out.incidents
        flags += out.flags
        late += out.late.alert_id.tolist()
    out = c.advance_to(int(SCENE.event_ms.max()) + FLUSH)
    return incidents + out.incidents, flags + out.flags, late, c


def cut(batch: AlertBatch, edges) -> list[AlertBatch]:
    edges = [0, *sorted(edges), len(batch)]
    return [batch.take(np.arange(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


REFERENCE = run(cut(SCENE, range(250, len(SCENE), 250)))


def test_planted_hotspot_is_flagged_and_closed():
    incidents, flags, late, c = REFERENCE
    assert late == []
    assert len({f.flag_id for f in flags}) == 1, [(f.status, f.cell_id) for f in flags]
    opened = [f for f in flags if f.status == "open"]
    closed = [f for f in flags if f.status == "close"]
    assert len(opened) == len(closed) == 1
    onset = int(SCENE.event_ms.min()) + 90 * MIN
    assert onset < opened[0].boundary_ms <= onset + 10 * MIN
    assert [f.version for f in flags] == list(range(1, len(flags) + 1))
    assert opened[0].n_sources == 3 and opened[0].score >= PARAMS.open_score
    x, y = PROJECTION.to_xy(np.array([opened[0].lat]), np.array([opened[0].lon]))
    assert np.hypot(x[0] - 700, y[0] + 400) < 500
    assert sum(i.n_alerts for i in incidents) == len(SCENE)  # every alert in one incident
    assert len({i.incident_id for i in incidents}) == len(incidents)
    camera = [i for i in incidents if i.source_counts.get("camera", 0) >= 10]
    assert len(camera) == 1 and camera[0].n_alerts >= 10  # repeats collapse into one
    assert c.stats["alerts"] == len(SCENE) and c.retained == 0  # all flushed and freed


def test_late_alerts_are_returned_and_change_nothing():
    stale = SCENE.take(np.arange(0, 200, 20))
    stale = AlertBatch(
        **{
            **{f: getattr(stale, f) for f in stale.__slots__},
            "alert_id": np.array([f"late:{i}" for i in range(len(stale))], dtype=object),
        }
    )
    batches = cut(SCENE, range(250, len(SCENE), 250))
    with_late = batches[:5] + [stale] + batches[5:]
    incidents, flags, late, c = run(with_late)
    assert late == stale.alert_id.tolist() and c.stats["late"] == len(stale)
    assert incidents == REFERENCE[0] and flags == REFERENCE[1]


def test_redelivered_alerts_are_ignored():
    batches = cut(SCENE, range(40, len(SCENE), 40))
    again = batches[:4] + [batches[3], batches[3].take(np.arange(5))] + batches[4:]
    incidents, flags, _, c = run(again)
    assert c.stats["duplicates"] == 45
    assert incidents == REFERENCE[0] and flags == REFERENCE[1]


def test_state_stays_bounded():
    c = engine()
    peak = 0
    for b in cut(SCENE, range(100, len(SCENE), 100)):
        c.process(b)
        peak = max(peak, c.retained)
    per_minute = len(SCENE) / (3 * 60)
    window = (PARAMS.window_s + PARAMS.lateness_s + 2 * PARAMS.slide_s) / 60 + 100 / per_minute
    assert peak < 1.3 * window * per_minute + 100  # the hotspot adds 90


def _six_batches_in(
    params: CorrelationParams = PARAMS,
) -> tuple[Correlator, list, list, list[AlertBatch]]:
    """A correlator after the first six batches of 30 alerts (180 of the scene's 292, with the
    planted hotspot's flag open), its incidents and flags so far, and the batches left."""
    batches = cut(SCENE, range(30, len(SCENE), 30))
    first = engine(params)
    head_inc, head_flags = [], []
    for b in batches[:6]:
        out = first.process(b)
        head_inc += out.incidents
        head_flags += out.flags
    return first, head_inc, head_flags, batches[6:]


def test_snapshot_restore_continues_identically():
    first, head_inc, head_flags, rest = _six_batches_in()
    data = first.snapshot()
    restored = Correlator.restore(data, PARAMS, PROJECTION, Baseline(0.0625, RATE))
    tail_inc, tail_flags, _, _ = run(rest, restored)
    assert head_inc + tail_inc == REFERENCE[0]
    assert head_flags + tail_flags == REFERENCE[1]


def test_a_checkpoint_restores_like_a_snapshot_and_names_its_settled_rows_again():
    first, head_inc, head_flags, rest = _six_batches_in()
    state, parts = first.checkpoint()
    assert parts, "six batches in, some buckets have settled"
    assert len(state) < len(first.snapshot())
    restored = Correlator.restore(state, PARAMS, PROJECTION, Baseline(0.0625, RATE), parts=parts)
    tail_inc, tail_flags, _, _ = run(rest, restored)
    assert head_inc + tail_inc == REFERENCE[0]
    assert head_flags + tail_flags == REFERENCE[1]

    # the next checkpoint names every part whose bucket still holds a row, written as before
    newest = int(first._buffer.col("event_ms").max())
    first.advance_to(newest + 10 * MIN)  # rows leave the window, none enters
    _, later = first.checkpoint()
    held = {int(t) - int(t) % (PARAMS.slide_s * 1000) for t in first._buffer.col("event_ms")}
    kept = {n for n in parts if int(n.split("/")[1]) in held}
    assert kept and kept <= set(later)

    missing = sorted(parts)[0]
    without = {n: d for n, d in parts.items() if n != missing}
    with pytest.raises(SnapshotError, match=f"{missing} is missing; replay from the committed"):
        Correlator.restore(state, PARAMS, PROJECTION, Baseline(0.0625, RATE), parts=without)


def test_a_snapshot_of_the_format_before_settled_rows_still_restores():
    first, head_inc, head_flags, rest = _six_batches_in()
    npz = np.load(io.BytesIO(first.snapshot()), allow_pickle=False)
    header = json.loads(npz["header"].tobytes()) | {"format": 3}
    arrays = {k: npz[k] for k in npz.files if k not in ("header", "buffer.pending_bits")}
    pending = np.unpackbits(npz["buffer.pending_bits"], count=header["rows"]).astype(bool)
    out = io.BytesIO()
    np.savez(
        out,
        header=np.frombuffer(json.dumps(header).encode(), np.uint8),
        **arrays,
        **{"buffer.pending": pending},
    )
    restored = Correlator.restore(out.getvalue(), PARAMS, PROJECTION, Baseline(0.0625, RATE))
    tail_inc, tail_flags, _, _ = run(rest, restored)
    assert head_inc + tail_inc == REFERENCE[0]
    assert head_flags + tail_flags == REFERENCE[1]


def test_restore_refuses_other_params_and_garbage():
    data = engine().snapshot()
    with pytest.raises(SnapshotError, match="other params .*window_s: 1800 in the snapshot, 600"):
        Correlator.restore(
            data,
            CorrelationParams(window_s=600, windows_s=(300, 600)),
            PROJECTION,
            Baseline(0.0625, RATE),
        )
    with pytest.raises(SnapshotError, match="not a correlator snapshot"):
        Correlator.restore(b"nonsense", PARAMS, PROJECTION, Baseline(0.0625, RATE))


def _snapshot_params(data: bytes) -> dict:
    return json.loads(np.load(io.BytesIO(data), allow_pickle=False)["header"].tobytes())["params"]


def _with_params(data: bytes, params: dict) -> bytes:
    """``data`` with ``params`` in its header, as a snapshot of other code would have them."""
    npz = np.load(io.BytesIO(data), allow_pickle=False)
    header = json.loads(npz["header"].tobytes()) | {"params": params}
    arrays = {k: npz[k] for k in npz.files if k != "header"}
    out = io.BytesIO()
    np.savez(out, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    return out.getvalue()


def test_a_snapshot_from_before_a_setting_restores_under_its_earlier_behaviour():
    """An upgrade that adds a setting keeps the checkpoints: a snapshot that does not name it
    counts as taken under the setting's earlier behaviour, its default (``fill_unseen_hours``)
    or, where the default has changed since, its value in ``EARLIER_DEFAULTS``; restored under
    those values it continues identically."""
    earlier = replace(PARAMS, **EARLIER_DEFAULTS)
    reference = run(cut(SCENE, range(250, len(SCENE), 250)), engine(earlier))
    first, head_inc, head_flags, rest = _six_batches_in(earlier)
    data = first.snapshot()
    lacking = ("fill_unseen_hours", *EARLIER_DEFAULTS)
    assert set(lacking) <= set(_snapshot_params(data))
    older = _with_params(
        data, {k: v for k, v in _snapshot_params(data).items() if k not in lacking}
    )
    restored = Correlator.restore(older, earlier, PROJECTION, Baseline(0.0625, RATE))
    tail_inc, tail_flags, _, _ = run(rest, restored)
    assert head_inc + tail_inc == reference[0]
    assert head_flags + tail_flags == reference[1]


def test_a_snapshot_under_other_flag_opening_settings_is_adopted(caplog):
    """The settings in ``RESTORE_ADOPTS`` only decide which cells open a flag from now on, so
    a snapshot taken under other values (here the defaults before 2026-12-07 and -08, named by
    the snapshot or implied by their absence) restores under today's, with a warning naming
    them, instead of being refused; the flag it holds open goes on under the same id."""
    assert set(EARLIER_DEFAULTS) == RESTORE_ADOPTS
    earlier = replace(PARAMS, **EARLIER_DEFAULTS)
    first, _, head_flags, rest = _six_batches_in(earlier)
    held_open = {f.flag_id for f in head_flags} - {
        f.flag_id for f in head_flags if f.status == "close"
    }
    assert held_open and rest
    data = first.snapshot()
    older = _with_params(
        data, {k: v for k, v in _snapshot_params(data).items() if k not in EARLIER_DEFAULTS}
    )
    for snapshot in (data, older):
        caplog.clear()
        restored = Correlator.restore(snapshot, PARAMS, PROJECTION, Baseline(0.0625, RATE))
        assert "corroboration_min_events: 1 in the snapshot, 2 now; merge_apart_m: 0.0" in (
            caplog.text
        )
        assert "window_weight_ratio: 1.0 in the snapshot, 2.0 now" in caplog.text
        _, tail_flags, _, _ = run(rest, restored)
        assert held_open <= {f.flag_id for f in tail_flags if f.status == "close"}

    with pytest.raises(SnapshotError, match="min_count: 2 in the snapshot, 3 now"):
        Correlator.restore(data, replace(PARAMS, min_count=3), PROJECTION, Baseline(0.0625, RATE))


def test_a_snapshot_with_a_setting_since_removed_is_refused():
    data = engine().snapshot()
    data = _with_params(data, _snapshot_params(data) | {"retired_knob": 1})
    with pytest.raises(SnapshotError, match="retired_knob: 1 in the snapshot, 'no such setting'"):
        Correlator.restore(data, PARAMS, PROJECTION, Baseline(0.0625, RATE))


def test_invalid_batches_say_what_to_fix():
    bad = SCENE.take(np.arange(3))
    bad.lat[1] = np.nan
    with pytest.raises(InvalidBatchError, match="dead-letter"):
        engine().process(bad)
    with pytest.raises(InvalidBatchError, match="origin ids must lie in 0..0"):
        engine().process(SCENE.take(np.arange(3)), Origins(np.array([0, 1, 0]), np.zeros(3, int)))


@settings(max_examples=12, deadline=None)
@given(st.sets(st.integers(1, len(SCENE) - 1), max_size=40), st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_batch_cuts_or_order_within_lateness(edges, seed):
    # Arrival order: each alert delayed by less than the allowed lateness, so none is late.
    rng = np.random.default_rng(seed)
    delay = rng.integers(0, PARAMS.lateness_ms, len(SCENE))
    arrival = SCENE.take(np.argsort(SCENE.event_ms + delay, kind="stable"))
    incidents, flags, late, _ = run(cut(arrival, edges))
    assert late == []
    assert incidents == REFERENCE[0]
    assert flags == REFERENCE[1]


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(0, 90), min_size=3, max_size=3), st.integers(1, 600))
def test_origins_far_apart_are_not_late_and_give_the_same_results(lags_min, size):
    """Three upstream origins (feed partitions), each arriving whole minutes behind the others:
    far beyond the allowed lateness, yet no alert is late, because each is judged against its
    own origin, and the boundaries wait for the slowest (regression: issue 17, 43 % of the
    alerts of two workers dead-lettered as late)."""
    origin = np.arange(len(SCENE)) % 3
    lag = np.array(lags_min)[origin] * MIN
    order = np.argsort(SCENE.event_ms + lag, kind="stable")
    arrival = SCENE.take(order)
    from_ = Origins(origin[order], np.full(len(order), NO_PROGRESS))
    c = Correlator(PARAMS, PROJECTION, Baseline(0.0625, RATE), origins=3)
    incidents, flags, late = [], [], []
    for a in range(0, len(arrival), size):
        out = c.process(
            arrival.take(np.arange(a, min(a + size, len(arrival)))),
            from_.take(np.arange(a, min(a + size, len(arrival)))),
        )
        incidents, flags = incidents + out.incidents, flags + out.flags
        late += out.late.alert_id.tolist()
    out = c.advance_to(int(SCENE.event_ms.max()) + FLUSH)
    assert late == []
    assert incidents + out.incidents == REFERENCE[0]
    assert flags + out.flags == REFERENCE[1]


def test_one_silent_origin_closes_nothing_until_it_declares():
    c = Correlator(PARAMS, PROJECTION, Baseline(0.0625, RATE), origins=2)
    out = c.process(
        SCENE, Origins(np.zeros(len(SCENE), np.int64), np.full(len(SCENE), NO_PROGRESS))
    )
    assert out.flags == [] and out.incidents == []
    end = int(SCENE.event_ms.max()) + FLUSH
    declared = c.declare(np.array([1, 0]), np.array([end, end]))
    assert declared.incidents == REFERENCE[0] and declared.flags == REFERENCE[1]
    data = c.snapshot()
    assert Correlator.restore(data, PARAMS, PROJECTION, Baseline(0.0625, RATE), 2).watermark == (
        c.watermark
    )
    with pytest.raises(SnapshotError, match="partition count changed"):
        Correlator.restore(data, PARAMS, PROJECTION, Baseline(0.0625, RATE), 3)


def test_regression_boundary_with_no_counted_alerts_does_not_crash():
    """A partition holding only severity-0 alerts (camera online/offline, halo copies of them)
    closes boundaries with no cell to score; the multi-scale reshape once failed on that."""
    import numpy as np

    from pipeline.alerts import CATEGORY_CODE, SOURCE_CODE, AlertBatch
    from pipeline.correlate import Baseline, CorrelationParams, Correlator
    from pipeline.geo.projection import LocalProjection

    n = 5
    t0 = 1_700_000_000_000
    batch = AlertBatch(
        alert_id=np.array([f"camera:{i}" for i in range(n)], dtype=object),
        source=np.full(n, SOURCE_CODE["camera"], np.int8),
        event_ms=t0 + np.arange(n, dtype=np.int64) * 20 * 60_000,
        lat=np.full(n, 30.25),
        lon=np.full(n, 120.15),
        category=np.full(n, CATEGORY_CODE["online"], np.int16),
        severity=np.zeros(n, np.float32),
        grid=np.zeros(n, np.int32),
    )
    params = CorrelationParams()
    engine = Correlator(params, LocalProjection(30.25, 120.15), Baseline(0.0625, 5.0))
    out = engine.process(batch)
    assert out.flags == [] and len(out.late) == 0


def test_open_flags_close_when_the_window_empties_at_once():
    """Regression: two flags still open when their last alerts left the window together made
    Gi* divide 0 by 0 (ZeroDivisionError in the kernel) instead of closing them."""
    gx, gy = np.meshgrid(np.arange(5) * 60.0, np.arange(5) * 60.0)  # 60 m apart: no bursts
    x = np.concatenate([gx.ravel(), gx.ravel() + 5000])
    y = np.concatenate([gy.ravel(), gy.ravel()])
    t0 = int(SCENE.event_ms.min())
    c = Correlator(CorrelationParams(), PROJECTION, Baseline(0.0625, 0.01))
    alerts = make_batch(x, y, np.full(len(x), t0), ids=[f"a:{i}" for i in range(len(x))])
    flags = c.process(alerts).flags + c.advance_to(t0 + 300 * MIN).flags
    opened = {f.flag_id for f in flags if f.status == "open"}
    assert len(opened) == 2 and {f.flag_id for f in flags if f.status == "close"} == opened


def test_open_flags_counts_the_flags_opened_and_not_yet_closed():
    c, still_open, seen = engine(), set(), []
    for batch in cut(SCENE, range(250, len(SCENE), 250)):
        for flag in c.process(batch).flags:
            (still_open.discard if flag.status == "close" else still_open.add)(flag.flag_id)
        assert c.open_flags == len(still_open)
        seen.append(c.open_flags)
    c.advance_to(int(SCENE.event_ms.max()) + FLUSH)
    assert max(seen) == 1 and c.open_flags == 0  # the planted hotspot opened, then closed


def test_a_copy_of_a_late_alert_is_a_duplicate_also_after_a_snapshot():
    """Issue 17: a normaliser that restarts redelivers its uncommitted tail; a late alert in it
    carries the same declared progress as its first copy, so it is late again, and must not
    be dead-lettered a second time (nor after the correlator itself was restored)."""
    batch = SCENE.take(np.arange(3))
    t = int(batch.event_ms.max()) + 10 * MIN  # every origin's progress: far past the three
    came_from = Origins(np.zeros(3, np.int64), np.full(3, t, np.int64))
    c = engine()
    first = c.process(batch, came_from)
    assert first.late.alert_id.tolist() == batch.alert_id.tolist()
    restored = Correlator.restore(c.snapshot(), PARAMS, PROJECTION, Baseline(0.0625, RATE))
    for again in (c.process(batch, came_from), restored.process(batch, came_from)):
        assert len(again.late) == 0 and again.duplicates == 3
    unjudged = Origins(np.zeros(3, np.int64), np.full(3, NO_PROGRESS, np.int64))
    assert len(engine().process(batch, unjudged).late) == 0  # nothing declared: not late


def test_a_copy_of_an_alert_without_progress_is_a_duplicate_after_its_row_left_and_a_snapshot():
    """The first alert of a feed partition with no mark to restore carries no progress; a
    killed normaliser redelivers it without one, after a tick moved the window past it."""
    batch = SCENE.take(np.arange(3))
    came_from = Origins(np.zeros(3, np.int64), np.full(3, NO_PROGRESS, np.int64))
    c = engine()
    assert len(c.process(batch, came_from).late) == 0
    c.declare(np.array([0]), np.array([int(SCENE.event_ms.max()) + FLUSH]))
    assert c.retained == 0
    restored = Correlator.restore(c.snapshot(), PARAMS, PROJECTION, Baseline(0.0625, RATE))
    for again in (c.process(batch, came_from), restored.process(batch, came_from)):
        assert len(again.late) == 0 and again.duplicates == 3


@pytest.mark.timeout(120)  # the window once looped for ever on such a copy
def test_copies_redelivered_after_the_window_passed_them_change_nothing():
    """Issue 17: a normaliser killed between publishing and committing redelivers its tail;
    when the tail held a tick that closed every window, the copies come after their first
    copies' rows were evicted and their late keys forgotten. They are duplicates: no dead
    letter twice, no row behind a closed boundary, and what follows is what a run without
    them gives."""
    arrival = SCENE.take(np.arange(len(SCENE)))
    before = np.maximum.accumulate(np.r_[arrival.event_ms[0], arrival.event_ms[:-1]])
    before[::40] += 10 * MIN  # some alerts are late against what their origin declared
    came_from = Origins(np.zeros(len(arrival), np.int64), before)
    tick = int(SCENE.event_ms.max()) + FLUSH
    tail = np.arange(len(arrival) - 300, len(arrival))

    def outputs(redeliver: bool):
        c = engine()
        first = c.process(arrival, came_from)
        ticked = c.declare(np.array([0]), np.array([tick]))
        late = first.late.alert_id.tolist()
        again = c.process(arrival.take(tail), came_from.take(tail)) if redeliver else None
        after = c.declare(np.array([0]), np.array([tick + FLUSH]))
        events = first.incidents + ticked.incidents + after.incidents
        return late, again, events, first.flags + ticked.flags + after.flags

    late, _, incidents, flags = outputs(redeliver=False)
    late_again, again, incidents_again, flags_again = outputs(redeliver=True)
    assert late and np.isin(late, arrival.alert_id[tail]).any(), "the tail holds late alerts"
    assert len(again.late) == 0 and again.duplicates == len(tail)
    assert (late_again, incidents_again, flags_again) == (late, incidents, flags)


def _two_origin_arrival(seed: int, restored: bool) -> tuple[AlertBatch, Origins]:
    """SCENE from two origins, each alert stamped with its origin's progress before it as a
    normaliser would: from a progress ``restored`` at the start, else none on each origin's
    first alert; one alert in twenty arrives 5 minutes late, so some are late."""
    rng = np.random.default_rng(seed)
    delay = np.where(rng.random(len(SCENE)) < 0.05, 5 * MIN, 0)
    order = np.argsort(SCENE.event_ms + delay, kind="stable")
    arrival, origin = SCENE.take(order), rng.integers(0, 2, len(SCENE))
    before = np.empty(len(arrival), np.int64)
    start = int(SCENE.event_ms.min()) if restored else NO_PROGRESS
    for o in (0, 1):
        at = np.flatnonzero(origin == o)
        before[at] = np.maximum.accumulate(np.r_[start, arrival.event_ms[at]])[:-1]
    return arrival, Origins(origin, before)


def _replay(arrival: AlertBatch, came_from: Origins, log: list) -> tuple[list, list, list]:
    """Feed ``log`` (index arrays of alerts, or a tick: progress for both origins) to a fresh
    correlator; its late alert ids, incidents and flags."""
    c = Correlator(PARAMS, PROJECTION, Baseline(0.0625, RATE), origins=2)
    late, incidents, flags = [], [], []
    for entry in log:
        if isinstance(entry, int):
            out = c.declare(np.array([0, 1]), np.array([entry, entry]))
        else:
            out = c.process(arrival.take(entry), came_from.take(entry))
        late += out.late.alert_id.tolist()
        incidents, flags = incidents + out.incidents, flags + out.flags
    return late, incidents, flags


@pytest.mark.timeout(300)  # before the fix some of these looped for ever
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, len(SCENE) - 1), max_size=4, unique=True),
    st.integers(1, 120),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
@example(kills=[45], tail=45, after_tick=False, restored=False, seed=0)
def test_tails_redelivered_wherever_the_kills_fall_change_nothing(
    kills, tail, after_tick, restored, seed
):
    """Issue 17's crash equivalence, at the engine: a normaliser killed before committing
    redelivers the ``tail`` alerts it had published since, with the progress they carried
    the first time. Wherever the kills fall, and after the closing tick too, the late alerts
    (each once), incidents and flags are those of the stream without copies; also where the
    first alerts carried no progress (nothing restored: the example, whose copy of ``s3:0``
    came after its row left the window and was dead-lettered before ``UnjudgedKeys``)."""
    arrival, came_from = _two_origin_arrival(seed, restored)
    tick = int(SCENE.event_ms.max()) + FLUSH
    cuts = [0, *sorted(kills), len(arrival)]
    batches = [np.arange(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    steady = [*batches, tick]
    crashed = []
    for batch in batches:
        end = int(batch[-1]) + 1
        crashed += [batch, np.arange(max(0, end - tail), end)]  # killed after the batch
    crashed += [tick] + ([np.arange(len(arrival) - tail, len(arrival)), tick] if after_tick else [])
    expected = _replay(arrival, came_from, steady)
    assert expected[0], "some alerts are late"
    assert _replay(arrival, came_from, crashed) == expected


# --- quiet boundaries: skipped, yet the same outputs --------------------------------------------


class CountingCorrelator(Correlator):
    """Counts the boundaries it visits, those it leaves unscored though the window is busy
    (a cell counts more than ``min_count``: only the recurrence bar's new tests decide), and
    those found calm once their burst statuses were decided."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.visited = 0
        self.busy_unscored = 0
        self.calm_once_decided = 0

    def _close_incidents(self, b):
        self.visited += 1
        return super()._close_incidents(b)

    def _decide_bursts(self, b):
        decided = super()._decide_bursts(b)
        self.calm_once_decided += int(decided and self._crowding(b) <= self.params.min_count)
        return decided

    def _no_new_test(self, b):
        no = super()._no_new_test(b)
        self.busy_unscored += int(no and self._crowding(b) > self.params.min_count)
        return no

    def _can_open(self, b, crowd):
        can = super()._can_open(b, crowd)
        self.busy_unscored += int(crowd > self.params.min_count and not can)
        return can


def sparse_scenario(seed: int) -> AlertBatch:
    """Two days of a sparse city: about 60 alerts over 20 x 20 km at random times, each a
    third of them followed by a second alert nearby minutes later (windows that must be
    scored), a tenth of them by a third too (busy windows whose boundaries with no new test
    cannot open a flag), four by three repeats of the same feed within 15 s and 10 m (a bunch
    that looks crowded until its repeats are decided), and one cluster of 12 alerts from
    three feeds within 100 m in 10 minutes (a flag that opens, updates and closes)."""
    rng = np.random.default_rng(seed)
    n = 60
    t = T0_SPARSE + rng.integers(0, 2 * 24 * 60 * MIN, n)
    x, y = rng.uniform(-10_000, 10_000, n), rng.uniform(-10_000, 10_000, n)
    follow = rng.random(n) < 0.3
    t = np.concatenate([t, t[follow] + rng.integers(1, 20, follow.sum()) * MIN])
    x = np.concatenate([x, x[follow] + rng.normal(0, 300, follow.sum())])
    y = np.concatenate([y, y[follow] + rng.normal(0, 300, follow.sum())])
    third = np.flatnonzero(follow)[: max(1, n // 10)]
    t = np.concatenate([t, t[third] + rng.integers(1, 25, len(third)) * MIN])
    x = np.concatenate([x, x[third] + rng.normal(0, 150, len(third))])
    y = np.concatenate([y, y[third] + rng.normal(0, 150, len(third))])
    at = T0_SPARSE + int(rng.integers(6, 40)) * 60 * MIN
    t = np.concatenate([t, at + rng.integers(0, 10 * MIN, 12)])
    x = np.concatenate([x, 2000 + rng.normal(0, 50, 12)])
    y = np.concatenate([y, -1000 + rng.normal(0, 50, 12)])
    bunch = np.repeat(rng.choice(n, 4, replace=False), 3)  # three repeats, seconds later
    t = np.concatenate([t, t[bunch] + np.tile([5_000, 10_000, 15_000], 4)])
    x = np.concatenate([x, x[bunch] + rng.normal(0, 5, 12)])
    y = np.concatenate([y, y[bunch] + rng.normal(0, 5, 12)])
    src = rng.choice([0, 1, 3], len(t))
    cat = rng.integers(0, 20, len(t))
    sev = np.where(rng.random(len(t)) < 0.1, 0.0, rng.uniform(0.2, 1.0, len(t)))
    src[-12:], cat[-12:], sev[bunch] = src[bunch], cat[bunch], 0.5  # same feed and category
    order = np.argsort(t, kind="stable")
    batch = make_batch(x[order], y[order], t[order], ids=[f"q{seed}:{i}" for i in range(len(t))])
    return AlertBatch(
        alert_id=batch.alert_id,
        source=src[order].astype(np.int8),
        event_ms=batch.event_ms,
        lat=batch.lat,
        lon=batch.lon,
        category=cat[order].astype(np.int16),
        severity=sev[order].astype(np.float32),
        grid=batch.grid,
    )


T0_SPARSE = 1_700_000_040_000


def _all_outputs(c: Correlator, batches: list[AlertBatch], end_ms: int):
    incidents, flags, late = [], [], []
    for batch in batches:
        out = c.process(batch)
        incidents, flags = incidents + out.incidents, flags + out.flags
        late += out.late.alert_id.tolist()
    out = c.advance_to(end_ms)
    return incidents + out.incidents, flags + out.flags, late


def _tally(*correlators: Correlator) -> dict[int, int]:
    """Cell tests per cell, summed over ``correlators`` (one run cut by a restore)."""
    total: dict[int, int] = {}
    for c in correlators:
        for cell, n in zip(*c.tested.counts(), strict=True):
            total[int(cell)] = total.get(int(cell), 0) + int(n)
    return total


def _skipping_against_every(scene: AlertBatch, edges, at: int, params, baseline):
    """Run ``scene``, cut at ``edges``, through a correlator that visits and scores every
    boundary, and through one that skips quiet ones, snapshotted and restored after batch
    ``at``; assert they emit the same outputs. ``baseline()`` builds each one's baseline.
    Returns the three correlators, the reference outputs and the end of the run."""
    batches = cut(scene, [e for e in edges if e < len(scene)])
    at = min(at, len(batches))
    end = int(scene.event_ms.max()) + FLUSH

    def fresh(skip: bool, data: bytes | None = None) -> CountingCorrelator:
        if data is not None:
            return CountingCorrelator.restore(data, params, PROJECTION, baseline())
        return CountingCorrelator(params, PROJECTION, baseline(), skip_quiet=skip)

    every = fresh(skip=False)
    reference = _all_outputs(every, batches, end)
    skipping = fresh(skip=True)
    first = _all_outputs(skipping, batches[:at], int(scene.event_ms.min()) - 1)
    restored = fresh(skip=True, data=skipping.snapshot())
    rest = _all_outputs(restored, batches[at:], end)
    assert tuple(a + b for a, b in zip(first, rest, strict=True)) == reference
    return every, skipping, restored, reference, end


def _baselines_equal_past_one_more_alert(every, restored, params, end: int) -> None:
    """The skipping correlator adds skipped slides' exposure at its next visit: both visit the
    boundary of one more alert, and only it, before their baselines are compared (to the
    bit, stream exposure too)."""
    tail_b = end + 5 * MIN - (end + 5 * MIN) % params.slide_ms + params.slide_ms
    for c in (every, restored):
        c.process(make_batch([0.0], [0.0], [tail_b - 1], ids=["tail"]))
        c.advance_to(tail_b + params.lateness_ms + 1)
        assert c._last_closed == tail_b
    for name, value in every.baseline.state().items():
        np.testing.assert_array_equal(restored.baseline.state()[name], value, strict=True)


# Only equalities are asserted per example: whether a random scenario has a busy window left
# unscored, a calm bunch or a flag is chance (seed 37595 has no busy window that the new tests'
# bound leaves unscored), so that the skip paths run is shown by the fixed scenario below.
@settings(max_examples=12, deadline=None)
@given(
    st.integers(0, 2**16),
    st.sets(st.integers(1, 90), max_size=8),
    st.integers(0, 8),
    st.sampled_from([0.0, 500.0]),
)
@example(seed=37595, edges={20, 69, 77, 80}, at=0, apart=0.0)  # no busy window left unscored
def test_skipping_quiet_boundaries_gives_the_outputs_of_visiting_every_one(seed, edges, at, apart):
    """Issue 19: a sparse city's boundaries are mostly skipped or left unscored, yet the
    incidents, flags, late alerts and the learned baseline (its stream exposure too, to the
    bit) equal those of a correlator that visits and scores every boundary, whatever the
    batch cuts, and across a snapshot and restore (``merge_apart_m`` off or on)."""
    params = CorrelationParams(merge_apart_m=apart)
    every, skipping, restored, _, end = _skipping_against_every(
        sparse_scenario(seed), edges, at, params, lambda: Baseline(0.0625, 0.05)
    )
    # The cells tested, boundary by boundary (the cell tests a threshold claims): the calm
    # boundaries tally them unscored, skipped ones in a run, as scoring each would.
    assert _tally(skipping, restored) == _tally(every)
    _baselines_equal_past_one_more_alert(every, restored, params, end)


def _sparse_table() -> Baseline:
    """A fitted table at the sparse scenario's rate (0.05 alerts per km² an hour): the city
    makes a few effective tests a day, so its bars sit at the ceiling (issue 23, item 3)."""
    from pipeline.correlate.baseline.history import CellHourBaseline
    from pipeline.correlate.lattice import Lattice

    lattice = Lattice(CorrelationParams().cell_m)
    ix, iy = np.meshgrid(np.arange(-80, 80), np.arange(-80, 80), indexing="ij")
    ids = lattice.cell_id(ix.ravel(), iy.ravel())
    table = np.full((len(ids), 168), 0.05)
    return CellHourBaseline(lattice.cell_km2, np.full(168, 0.05), ids, table)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**16), st.sets(st.integers(1, 90), max_size=8), st.integers(0, 8))
def test_skipping_quiet_boundaries_is_exact_under_a_sparse_citys_bars(seed, edges, at):
    """With the bars of a sparse city (p <= 0.05 and a score bar of 0, scan.test_rate) a count
    at min_count still cannot open a flag (its p-value is 1), so skipping calm boundaries
    still gives the flags and incidents of visiting every one, across a restore."""
    from pipeline.correlate.params import OPEN_P_CEILING
    from pipeline.correlate.scan.test_rate import city_params

    params = CorrelationParams()
    bars = city_params(params, _sparse_table())
    assert bars.open_p_max == OPEN_P_CEILING and bars.open_score == 0.0
    every, skipping, restored, reference, _ = _skipping_against_every(
        sparse_scenario(seed), edges, at, params, _sparse_table
    )
    assert _tally(skipping, restored) == _tally(every)
    assert all(0 < f.p_value <= OPEN_P_CEILING for f in reference[1] if f.status == "open")


@pytest.mark.parametrize("bars", ["learning", "sparse table"])
def test_a_sparse_city_takes_every_skip_path(bars):
    """The property tests above assert only equalities; this fixed scenario (seed 1, cut in
    four, restored after the second batch) shows that they compare something: the skipping
    correlator visits a small share of the boundaries, leaves busy windows unscored by the
    new tests' bound, finds a bunch calm once its repeats are decided, and the cluster is
    flagged, under the learning baseline and under a sparse city's bars alike."""
    params = CorrelationParams()
    baseline = (lambda: Baseline(0.0625, 0.05)) if bars == "learning" else _sparse_table
    every, skipping, restored, reference, end = _skipping_against_every(
        sparse_scenario(1), {20, 45, 70}, 2, params, baseline
    )
    assert _tally(skipping, restored) == _tally(every)
    assert sum(_tally(every).values()) > 0  # the pairs' cells were tested
    assert len(reference[0]) > 40  # incidents emitted
    assert {"open", "update", "close"} <= {f.status for f in reference[1]}  # flagged
    # every closable boundary was visited by one, a small share (about 7-9 %) by the other
    assert skipping.visited + restored.visited < every.visited / 3
    assert skipping.busy_unscored + restored.busy_unscored > 0  # the new tests' bound was used
    assert skipping.calm_once_decided + restored.calm_once_decided > 0  # a bunch was calm
    if bars == "learning":
        assert every.baseline.hours > 40  # two days of exposure learnt
        _baselines_equal_past_one_more_alert(every, restored, params, end)


def _owned_west_of(x_m: float):
    """An ownership of flag centres: those west of ``x_m`` (metres on the test projection)."""
    return lambda lat, lon: PROJECTION.to_xy(lat, lon)[0] < x_m


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([-1e9, 1e9]) | st.floats(-3000, 3000))
def test_publish_only_builds_the_events_of_owned_flags_and_no_others(x_m):
    # The hotspot's flag lies about 700 m east: the whole plane, nothing, or either side.
    c = engine()
    c.publish_only(_owned_west_of(x_m))
    incidents, flags, _, c = run(cut(SCENE, range(250, len(SCENE), 250)), c)
    owns = _owned_west_of(x_m)
    assert flags == [f for f in REFERENCE[1] if owns(np.array([f.lat]), np.array([f.lon]))[0]]
    assert incidents == REFERENCE[0]
    assert c.stats["flag_events"] == len(REFERENCE[1])  # every flag event, built or not


@settings(max_examples=6, deadline=None)
@given(st.integers(1, len(SCENE) // 250))
def test_flags_not_published_are_tracked_all_the_same(split):
    # Nothing published for the first batches, then everything: the later events (versions,
    # closes, updates) and the state are those of a correlator that published all along.
    batches = cut(SCENE, range(250, len(SCENE), 250))
    c, reference = engine(), engine()
    c.publish_only(lambda lat, lon: np.zeros(len(lat), bool))
    hidden = [f for b in batches[:split] for f in c.process(b).flags]
    shown = [f for b in batches[:split] for f in reference.process(b).flags]
    assert hidden == []
    c.publish_only(None)
    _, tail, _, c = run(batches[split:], c)
    _, reference_tail, _, reference = run(batches[split:], reference)
    assert shown + tail == REFERENCE[1]
    assert tail == reference_tail
    assert c.snapshot() == reference.snapshot()
