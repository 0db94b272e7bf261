"""The growable alert columns and the alert-id keys."""

from __future__ import annotations

import numpy as np

from pipeline.correlate.window.buffer import COLUMNS, AlertBuffer, alert_keys

from ..helpers import make_batch


def test_keys_are_stable_and_ignore_numpy_padding():
    a = alert_keys(np.array(["camera:1", "camera:2", "x"], dtype=object))
    b = alert_keys(np.array(["x", "camera:1"]))
    assert a[0] == b[1] and a[2] == b[0] and a[0] != a[1]
    # FNV-1a 64 of "a" is a published constant.
    assert alert_keys(np.array(["a"]))[0] == 0xAF63DC4C8601EC8C


def test_append_grows_and_compact_keeps_order():
    buf = AlertBuffer(capacity=4)
    for k in range(3):
        b = make_batch(
            np.arange(3.0),
            np.zeros(3),
            [k * 10, k * 10 + 1, k * 10 + 2],
            ids=[f"id-{k}-{i}" + "x" * k * 20 for i in range(3)],
        )
        buf.append(b, alert_keys(b.alert_id), np.arange(3.0), np.zeros(3))
    assert len(buf) == 9
    assert buf.col("event_ms").tolist() == [0, 1, 2, 10, 11, 12, 20, 21, 22]
    assert buf.col("alert_id")[8] == b"id-2-2" + b"x" * 40  # the id column widened (UTF-8)
    buf.compact(buf.col("event_ms") % 2 == 0)
    assert buf.col("event_ms").tolist() == [0, 2, 10, 12, 20, 22]
    again = AlertBuffer.from_state({name: buf.col(name).copy() for name in COLUMNS})
    assert again.col("alert_id").tolist() == buf.col("alert_id").tolist()
    assert again.col("pending").all()


def _append(buf, t, ids):
    b = make_batch(np.zeros(len(t)), np.zeros(len(t)), t, ids=ids)
    buf.append(b, alert_keys(b.alert_id), np.zeros(len(t)), np.zeros(len(t)))


def test_rows_stay_canonical_and_roots_follow_their_alerts():
    buf = AlertBuffer(capacity=4)
    _append(buf, [30, 10, 50, 20], ["c", "a", "e", "b"])
    assert buf.col("event_ms").tolist() == [10, 20, 30, 50]
    root = buf.col("root")
    root[:] = [0, 0, 2, 2]  # a, b -> a; c, e -> c
    _append(buf, [40, 25, 30], ["d", "b2", "c0"])  # interleaves with c and e
    keys = buf.col("key")
    t = buf.col("event_ms")
    assert t.tolist() == sorted(t.tolist())
    assert (np.lexsort((keys, t)) == np.arange(len(t))).all()  # ties broken by key
    by_key = dict(zip(buf.col("alert_id").tolist(), buf.col("root").tolist(), strict=True))
    ids = buf.col("alert_id").tolist()
    assert ids[by_key[b"e"]] == b"c" and ids[by_key[b"b"]] == b"a"
    assert by_key[b"d"] == -1 and buf.col("repeat").tolist() == [-1] * 7
    buf.compact(np.array([i != b"b2" and i != b"a" for i in ids]) | (buf.col("root") == 0))
    ids = buf.col("alert_id").tolist()
    roots = dict(zip(ids, buf.col("root").tolist(), strict=True))
    assert b"b2" not in roots and ids[roots[b"e"]] == b"c" and ids[roots[b"c"]] == b"c"
    assert buf.keys.contains(alert_keys(np.array(["c", "b2"]))).tolist() == [True, False]


def test_ids_converted_once_give_the_keys_and_bytes_of_every_path():
    """process() converts the ids to UTF-8 bytes once and hashes those: the same keys as
    hashing the text, for ASCII ids (bytes) and others (decoded first)."""
    from pipeline.correlate.window.buffer import alert_keys, utf8_ids

    ids = np.array(["camera:1", "110:x", "grid:é", "", "a\x00b"], dtype=object)
    text = ids.astype(np.str_)
    assert (alert_keys(utf8_ids(ids)) == alert_keys(text)).all()
    assert (alert_keys(utf8_ids(ids[:2])) == alert_keys(text[:2])).all()
    assert [b.decode() for b in utf8_ids(ids).tolist()] == ids.tolist()


def test_through_is_the_search_after_every_change_of_the_rows():
    """``through`` is memoised between changes of the rows: after appends and compactions it
    still answers what a search of the event times does."""
    rng = np.random.default_rng(5)
    buf = AlertBuffer(capacity=4)
    probes = list(range(-5, 130, 3))
    for step in range(12):
        t = rng.integers(0, 120, int(rng.integers(1, 6))).tolist()
        _append(buf, t, [f"a{step}-{i}" for i in range(len(t))])
        for _ in range(2):  # asked twice: the memo answers the second time
            got = [buf.through(p) for p in probes]
            assert got == np.searchsorted(buf.col("event_ms"), probes, side="right").tolist()
        if step % 3 == 2:
            buf.compact(rng.random(len(buf)) < 0.7)
            got = [buf.through(p) for p in probes]
            assert got == np.searchsorted(buf.col("event_ms"), probes, side="right").tolist()


def test_through_answers_alike_before_and_after_it_bisects_a_list():
    """The first searches after a change of the rows use NumPy's search, the later ones
    bisect a list of the event times: both answer what searchsorted does, for ints and NumPy
    ints, and a change of the rows drops the list."""
    from pipeline.correlate.window.buffer import _BISECT_AFTER

    rng = np.random.default_rng(9)
    buf = AlertBuffer(capacity=4)
    t = np.sort(rng.integers(0, 1000, 50)).tolist()
    _append(buf, t, [f"a{i}" for i in range(len(t))])
    probes = rng.integers(-10, 1010, 3 * _BISECT_AFTER).tolist()
    probes += [np.int64(p) for p in (-1, 0, t[0], t[-1], 1000)]
    got = [buf.through(p) for p in probes]
    assert buf._times is not None  # the list was built
    assert got == np.searchsorted(buf.col("event_ms"), probes, side="right").tolist()
    _append(buf, [t[-1] + 5], ["late-one"])
    assert buf._times is None
    assert buf.through(t[-1] + 5) == len(buf) and buf.through(t[-1] + 4) == len(buf) - 1


def test_views_are_the_live_columns_until_the_rows_change():
    buf = AlertBuffer(capacity=2)
    _append(buf, [5, 1], ["a", "b"])
    views = buf.views()
    assert views is buf.views()
    assert {k: v.tolist() for k, v in views.items() if k in ("event_ms", "pending")} == {
        "event_ms": [1, 5],
        "pending": [True, True],
    }
    _append(buf, [3, 9, 0], ["c", "d", "e"])  # grows past the capacity: new arrays
    assert buf.views() is not views
    assert buf.views()["event_ms"].tolist() == [0, 1, 3, 5, 9]
