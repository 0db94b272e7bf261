"""Event time: per-origin progress, lateness, duplicates, and the slide boundaries that are due.

Alerts reach a correlator from several *origins*: the feed partitions upstream (one origin per
partition of each feed topic, :mod:`pipeline.marks`), interleaved however the normalise
workers, the broker and the polls happen to interleave them. Like Flink's per-source-partition
watermarks, each origin declares its own progress, and the window takes the minimum:

* ``progress[o]`` is the largest event time origin ``o`` has declared so far: by its alerts
  (their event times, and the progress of their origin before them, which the normaliser
  stamps on each in its feed partition's order), and by its watermark marks (records in the
  log saying "origin ``o`` has reached ``t``"). It only grows: a declaration below it (a
  normaliser that restarted and recomputes its progress) changes nothing.
* An alert of origin ``o`` is **late** when its event time is below ``progress[o]`` just before
  it minus the allowed lateness. The running maximum is vectorised per origin, so one batch of
  ``n`` or ``n`` batches of one classify every alert the same way.
* The **closing watermark** is ``min(progress) - lateness`` over *every* expected origin (an
  origin that has declared nothing holds it back), and a boundary ``b`` closes only once the
  watermark is strictly past it.

Why late decisions and closed boundaries do not depend on how the origins' records are
interleaved, nor on where batches are cut:

* An alert's late decision reads only its own origin's records before it, and each origin's
  records reach every partition in the order that origin produced them (one producer per feed
  partition at a time; its alerts, then their mark, in one send that keeps each partition's
  order). Records of other origins never enter it.
* While its normaliser runs uninterrupted, the progress an alert carries is the largest of
  every earlier alert and mark of its origin, so nothing before it in this partition declares
  more: the decision is its feed partition's own ("behind an earlier alert of the same feed
  partition, by more than the lateness"), the same for one worker or several, whatever their
  batches. After a normaliser restarts, the correlator's own record of the origin still bounds
  it (fewer alerts may be late then, never more).
* It is exactly the decision that keeps closed results final: the closing watermark is at most
  ``progress[o] - lateness`` for every ``o``, so an alert that is *not* late has event time
  ``>= progress[o] - lateness >= watermark > b`` for every boundary ``b`` closed so far; it can
  only land after them. An alert that *is* late might or might not fall into a closed
  boundary, depending on the other origins' progress; it is dead-lettered either way, so the
  decision does not depend on them.
* Which boundaries are closed at the end of a stream depends only on each origin's final
  progress, the same for every interleaving.

With a single origin (the backfill) all of this is the classic rule: late means behind the
running maximum of everything before it, minus the lateness.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import SnapshotError
from .key_set import KeySet

__all__ = ["EventWindow"]

_NO_TIME = np.iinfo(np.int64).min


def _repeated(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Mask over ``keys``: rows in ``among`` whose key an earlier row in ``among`` has."""
    repeated = np.zeros(len(keys), bool)
    repeated[among] = True
    _, first = np.unique(keys[among], return_index=True)
    repeated[among[first]] = False
    return repeated


def _ceil_to(t: int, step: int) -> int:
    return -((-t) // step) * step


class EventWindow:
    """Watermark and boundary bookkeeping of one correlator (no alert data lives here).

    ``origins``: how many origins may send alerts (ids ``0 .. origins - 1``); every one of them
    must declare progress before the first boundary closes.
    """

    def __init__(self, window_ms: int, slide_ms: int, lateness_ms: int, origins: int = 1) -> None:
        if origins < 1:
            raise ValueError(f"origins must be at least 1, got {origins}")
        self.window_ms = window_ms
        self.slide_ms = slide_ms
        self.lateness_ms = lateness_ms
        #: largest event time each origin has declared (int64 min: nothing yet); written only
        #: by this class's methods, which forget the remembered watermark
        self.progress = np.full(origins, _NO_TIME, np.int64)
        self._watermark: int | None = None
        #: The first boundary not yet closed; ``None`` until the first one is known.
        self.next_boundary: int | None = None

    @property
    def origins(self) -> int:
        return len(self.progress)

    @property
    def watermark(self) -> int:
        """The least progress over every origin minus the allowed lateness (int64 min while
        some origin has declared nothing)."""
        # Asked at least twice per boundary visit, and progress moves only with a batch, a
        # mark or a restore: remembered until then (every method that writes ``progress``
        # forgets it).
        mark = self._watermark
        if mark is None:
            progress = self.progress
            low = min(progress.tolist()) if len(progress) <= 64 else int(progress.min())
            mark = self._watermark = _NO_TIME if low == _NO_TIME else low - self.lateness_ms
        return mark

    def admit(
        self,
        event_ms: np.ndarray,
        keys: np.ndarray,
        retained: KeySet | np.ndarray,
        origin: np.ndarray | None = None,
        declared: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Classify a batch in arrival order and advance each origin's progress.

        Returns boolean masks ``(late, duplicate)`` over the batch. An alert that carries its
        origin's declared progress (``declared`` known: every alert a normaliser stamps) is
        judged late first, against that progress alone, and then, if it is not late, it is a
        duplicate when its key is retained or an earlier alert of the batch that is not late
        had it (first one wins). So each such alert's fate is a function of its own record:
        copies of one alert from two feed partitions (a redelivered message without a key)
        are each judged by their own origin, whichever arrives first and whichever worker
        normalised them; and a copy that a normaliser redelivers after a restart carries the
        same declared progress as the first copy (restored, :mod:`jobs.watermarks`), so it is
        judged the same and then dropped as a duplicate, not dead-lettered as late. Such a
        copy can come after the window has passed its first copy, and that row been evicted:
        the tail the normaliser redelivers held a tick, or an idle mark followed it, that moved
        every origin on. A judged alert that is not late yet lands behind the watermark is
        such a copy (a first copy never does, see the module docstring), so it is a duplicate
        too; a row behind a closed boundary would otherwise enter the window. (A late copy
        whose first copy was forgotten: :class:`~.late_keys.LateKeys`.)

        An alert without a declared progress (the backfill's; the first alert of an origin
        whose progress could not be restored) is judged against this correlator's record of
        its origin, and the duplicate check comes first, so a redelivery is ignored, not
        dead-lettered as late, while its first copy's row is retained. A copy that comes after
        the row has left the window is late by this rule; the live worker's correlator
        remembers such alerts and drops it as a duplicate (:mod:`.unjudged_keys`).

        ``retained``: the retained keys, as a :class:`KeySet` (what the engine passes: time
        proportional to the batch) or an array. ``origin``: each alert's origin id (None: all
        origin 0); ``declared``: the progress its origin had declared before it (int64 min:
        not known; None: none carried).
        """
        if isinstance(retained, KeySet):
            retained_dup = retained.contains(keys)
        else:
            retained_dup = np.isin(keys, retained)
        watermark = self.watermark  # before this batch moves any origin
        prior = self._progress_before(
            event_ms if declared is None else np.maximum(event_ms, declared), origin
        )
        judged = np.zeros(len(keys), bool) if declared is None else declared != _NO_TIME
        if declared is not None:
            # While a normaliser runs uninterrupted, what it declares is at least what this
            # correlator has seen of the origin, so this is the classic rule; a redelivered
            # copy is judged as its first copy was, not against the origin's progress since.
            prior = np.where(judged, declared, prior)
        # Before an origin's first declaration there is no bound (and int64 min would wrap).
        behind = (prior != _NO_TIME) & (event_ms < prior - self.lateness_ms)
        unjudged_dup = retained_dup | _repeated(keys, np.arange(len(keys)))
        late = behind & (judged | ~unjudged_dup)
        # A first copy that is not late lands at or after the watermark (module docstring).
        # One behind it is a copy redelivered after a tick or an idle mark moved every origin
        # past its first copy, whose row may be evicted by now: a duplicate, never a row
        # behind a closed boundary.
        passed = judged & ~late & (watermark != _NO_TIME) & (event_ms < watermark)
        judged_dup = retained_dup | passed | _repeated(keys, np.flatnonzero(~late & ~passed))
        duplicate = np.where(judged, judged_dup & ~late, unjudged_dup)
        return late, duplicate

    def _progress_before(self, event_ms: np.ndarray, origin: np.ndarray | None) -> np.ndarray:
        """Each alert's origin's progress just before it, ``event_ms`` being what each alert
        declares; leaves ``progress`` after the batch.

        A running maximum per origin: the batch is grouped by origin (stable, so each group
        keeps arrival order) and each group accumulated from its origin's progress. The loop
        runs per origin present in the batch, not per alert.
        """
        if not len(event_ms):
            return np.empty(0, np.int64)
        self._watermark = None
        if origin is None or self.origins == 1:
            groups = [(0, np.arange(len(event_ms)))]
        else:
            order = np.argsort(origin, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(origin[order]) != 0])
            groups = [
                (int(origin[order[s]]), part)
                for s, part in zip(starts, np.split(order, starts[1:]), strict=True)
            ]
        prior = np.empty(len(event_ms), np.int64)
        for o, rows in groups:  # loop per origin in the batch
            run = np.maximum.accumulate(np.concatenate([[self.progress[o]], event_ms[rows]]))
            prior[rows] = run[:-1]
            self.progress[o] = run[-1]
        return prior

    def declare(self, origin: np.ndarray, progress_ms: np.ndarray) -> None:
        """Origin ``origin[i]`` has reached event time ``progress_ms[i]`` (a watermark mark).
        Progress never moves back: a declaration below what is known changes nothing."""
        origin = np.asarray(origin, np.int64)
        if len(origin) and (origin.min() < 0 or origin.max() >= self.origins):
            raise ValueError(
                f"origin ids must lie in 0..{self.origins - 1}; a mark from another partition "
                "count? Set the same `partitions` for every worker and the topics"
            )
        np.maximum.at(self.progress, origin, np.asarray(progress_ms, np.int64))
        self._watermark = None

    def advance(self, event_ms: int) -> None:
        """Move every origin's progress to ``event_ms`` (never backwards): the end of a
        backfill, or an idle stream known to have nothing older to come."""
        np.maximum(self.progress, int(event_ms), out=self.progress)
        self._watermark = None

    def start(self, earliest_ms: int) -> None:
        """Set the first boundary from the earliest retained alert, once it is final.

        Called with the minimum retained event time; the boundary is only fixed when it is
        already closable, because only then are all alerts before it known.
        """
        if self.next_boundary is None:
            b = _ceil_to(earliest_ms, self.slide_ms)
            if b < self.watermark:
                self.next_boundary = b

    def pop_due(self) -> int | None:
        """The next boundary the watermark has passed (and mark it closed), else ``None``."""
        b = self.next_boundary
        if b is None or b >= self.watermark:
            return None
        self.next_boundary = b + self.slide_ms
        return b

    def skip_to(self, next_event_ms: int | None) -> None:
        """Jump to the boundary of ``next_event_ms`` (or as far as the watermark allows when
        ``None``), never back and never past what is closable.

        The caller decides that the boundaries jumped over change nothing: empty windows (an
        idle stream, backfill gaps), or quiet ones (``Correlator._skip_to_change``).
        """
        limit = _ceil_to(self.watermark, self.slide_ms)
        target = (
            limit if next_event_ms is None else min(_ceil_to(next_event_ms, self.slide_ms), limit)
        )
        if self.next_boundary is not None and target > self.next_boundary:
            self.next_boundary = target

    def horizon_ms(self) -> int | None:
        """Event times ``<=`` this are outside every window still to be closed."""
        if self.next_boundary is None:
            return None
        return self.next_boundary - self.window_ms

    def state(self) -> dict[str, list[int] | int | None]:
        return {"progress": self.progress.tolist(), "next_boundary": self.next_boundary}

    def load_state(self, state: dict) -> None:
        progress = np.asarray(state["progress"], np.int64)
        if len(progress) != self.origins:
            raise SnapshotError(
                f"the state has the progress of {len(progress)} origins, this correlator "
                f"expects {self.origins} (feeds x partitions): the partition count changed. "
                "Rebuild the partition from alerts.normalized instead"
            )
        self.progress, self._watermark = progress, None
        nb = state["next_boundary"]
        self.next_boundary = None if nb is None else int(nb)
