"""A checkpoint's state holds the correlator snapshot and the notice book together, and a
checkpoint written before notices existed still restores."""

from __future__ import annotations

import pytest

from pipeline.patrol.state import join_state, split_state


def test_the_two_parts_come_back_as_they_went_in():
    assert split_state(join_state(b"PK\x03\x04snapshot", b'{"notices":[]}')) == (
        b"PK\x03\x04snapshot",
        b'{"notices":[]}',
    )
    assert split_state(join_state(b"", b"")) == (b"", b"")


def test_a_correlator_snapshot_alone_restores_without_a_book():
    assert split_state(b"PK\x03\x04old checkpoint") == (b"PK\x03\x04old checkpoint", None)


def test_a_state_cut_short_is_refused():
    with pytest.raises(ValueError, match="cut short"):
        split_state(join_state(b"snapshot", b"book")[:15])
