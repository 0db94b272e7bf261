"""A backfill's correlators: in its own process, or spread over child processes.

The correlators are per partition and independent (a partition's results depend on its own
alerts only), so they can run anywhere as long as each sees its partition's alerts in order.
With ``processes`` above 1, partition ``p`` lives in child ``p % processes``; the backfill's
process reads, normalises and writes to the warehouse meanwhile (chDB opens a data directory in
one process only, so the children never touch it: they send their messages back). Results are
collected in partition order, the order the backfill publishes them in when it correlates in
process, so the warehouse rows and the flag events do not depend on the number of processes.

Children are forked once, when the pool is made: they inherit the correlators the parent built
(with the baselines only the parent could read from the warehouse) and the registry, so
nothing large is pickled. Numba kernels the parent has already run are inherited compiled; the
others each child loads from Numba's cache on first use, as the parent would.
Each request is one message per child (a list of partitions' alerts), each reply one message
(their results, the flag and incident messages as MessagePack: on the dense city's 15,467 flag
versions and 3,687 incidents, pickling and unpickling took 1.10 s, MessagePack 0.33 s). A
thread per child writes the requests and one drains the replies: the backfill's process queues
the next chunk while the child still works on the one before, and goes on storing (written by
the caller, a request blocked on the full pipe until the child was done: 2.9 s of the dense
city's 8.4 s in that wait), and a child sending results never blocks on a parent that is
sending.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import queue
import threading
import traceback
from functools import partial
from multiprocessing.reduction import ForkingPickler
from typing import Any

import msgspec
import numpy as np

from ..alerts import AlertBatch
from ..correlate import Correlator
from ..correlation_loop import PartitionResult, correlate_partition, owned_messages
from ..exceptions import BackfillError
from ..geo.admin_units import AdminRegistry
from ..outputs import FlagMessage, IncidentMessage
from ..routing import TileRouting

__all__ = ["PartitionPool", "Work"]

log = logging.getLogger(__name__)

#: one partition's share of a chunk: its number, its alerts in order, which are halo copies
Work = tuple[int, AlertBatch, np.ndarray]


class _Partitions:
    """The correlators of some partitions, and the three things a backfill asks of them."""

    def __init__(
        self, correlators: dict[int, Correlator], routing: TileRouting, registry: AdminRegistry
    ) -> None:
        self.correlators = correlators
        self.routing = routing
        self.registry = registry

    def correlate(self, work: list[Work]) -> list[tuple[int, PartitionResult]]:
        """Each partition's result; ``late`` and ``failed`` are positions in its alerts."""
        return [
            (
                partition,
                correlate_partition(
                    self.correlators[partition],
                    partition,
                    alerts,
                    np.arange(len(alerts)),
                    halo,
                    self.routing,
                    self.registry,
                ),
            )
            for partition, alerts, halo in work  # loop per partition
        ]

    def flush(self, horizon_ms: int) -> list[tuple[int, list, list]]:
        """Every correlator advanced to ``horizon_ms``: its owned incidents and flags."""
        out = []
        for p, c in self.correlators.items():  # loop per partition
            c.publish_only(partial(self.routing.owns, p))  # events of owned flags only
            out.append(
                (p, *owned_messages(c.advance_to(horizon_ms), p, self.routing, self.registry))
            )
        return out

    def cell_tests(self) -> int:
        """Cell tests of these partitions, each counting only the cells it owns: a halo cell
        is tested by a neighbour too, but flagged only by its owner."""
        total = 0
        for partition, correlator in self.correlators.items():  # loop per partition
            ids, counts = correlator.tested.counts()
            x, y = correlator.lattice.centre(*correlator.lattice.unpack(ids))
            lat, lon = self.routing.projection.to_latlon(x, y)
            total += int(counts[self.routing.owns(partition, lat, lon)].sum())
        return total


_encode = msgspec.msgpack.Encoder().encode
_incidents = msgspec.msgpack.Decoder(list[IncidentMessage]).decode
_flags = msgspec.msgpack.Decoder(list[FlagMessage]).decode


def _packed(method: str, value: Any) -> Any:
    """A child's reply to ``method``, its messages as MessagePack (see module)."""
    if method == "correlate":
        return [(p, _encode(r.incidents), _encode(r.flags), r.late, r.failed) for p, r in value]
    if method == "flush":
        return [(p, _encode(incidents), _encode(flags)) for p, incidents, flags in value]
    return value


def _unpacked(method: str, value: Any) -> Any:
    """:func:`_packed` undone, in the parent."""
    if method == "correlate":
        return [
            (p, PartitionResult(_incidents(i), _flags(f), late, failed))
            for p, i, f, late, failed in value
        ]
    if method == "flush":
        return [(p, _incidents(i), _flags(f)) for p, i, f in value]
    return value


def _serve(partitions: _Partitions, conn: Any) -> None:
    """A child's loop: run each request on its partitions, reply with the result or the
    traceback of what failed, until the parent says stop or goes away."""
    # Everything inherited is frozen (a permanent generation, which collections skip): a full
    # collection would walk the parent's start-up objects, and copy every page it touches.
    gc.freeze()
    while True:
        try:
            method, args = conn.recv()
        except EOFError:  # the parent is gone
            return
        if method == "stop":
            return
        try:
            reply = ("ok", _packed(method, getattr(partitions, method)(*args)))
        except Exception:  # a bug: the parent raises it with this traceback
            reply = ("error", traceback.format_exc())
        conn.send(reply)


class _Child:
    """One child process, its pipe, and a thread each to write its requests and to drain its
    replies, so that the backfill's process never waits on the pipe (see module)."""

    def __init__(self, context: Any, partitions: _Partitions, name: str) -> None:
        parent_end, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(partitions, child_end), name=name, daemon=True
        )
        self.process.start()
        child_end.close()
        self.conn = parent_end
        self.replies: queue.SimpleQueue = queue.SimpleQueue()
        self.requests: queue.SimpleQueue = queue.SimpleQueue()  # pickled; None: no more
        self.reader = threading.Thread(target=self._read, name=f"{name}-replies", daemon=True)
        self.writer = threading.Thread(target=self._write, name=f"{name}-requests", daemon=True)
        self.reader.start()
        self.writer.start()

    def _read(self) -> None:
        while True:
            try:
                reply = self.conn.recv()
            except (EOFError, OSError):
                self.replies.put(("gone", None))
                return
            self.replies.put(reply)

    def _write(self) -> None:
        while (request := self.requests.get()) is not None:
            try:
                self.conn.send_bytes(request)
            except OSError:  # the child is gone: the reader reports it
                return

    def send(self, method: str, *args: Any) -> None:
        """Queue a request; it is written while this process goes on (the child reads it once
        it is done with the requests before)."""
        if not self.process.is_alive():
            raise self._died()
        self.requests.put(ForkingPickler.dumps((method, args)))

    def receive(self, method: str) -> Any:
        status, value = self.replies.get()
        if status == "ok":
            return _unpacked(method, value)
        if status == "error":
            raise BackfillError(
                f"{self.process.name} failed correlating its partitions, a bug; the backfill "
                f"stopped, and what it stored is partial: run it again once fixed (a backfill "
                f"replaces what its range held). Its traceback:\n{value}"
            )
        raise self._died()

    def _died(self) -> BackfillError:
        self.process.join(timeout=1)
        return BackfillError(
            f"{self.process.name} (pid {self.process.pid}) exited with code "
            f"{self.process.exitcode} while correlating; the backfill stopped, and what it "
            "stored is partial. Killed for memory? Run it again (it replaces what its range "
            "held) with fewer processes: HOTSPOT_BACKFILL_PROCESSES=1 correlates in process."
        )

    def close(self) -> None:
        self.requests.put(ForkingPickler.dumps(("stop", ())))
        self.requests.put(None)
        if self.process.is_alive():
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.writer.join(timeout=5)  # done: the child read its stop, or is gone (a broken pipe)
        self.conn.close()


class PartitionPool:
    """Correlate partitions' alerts in this process (``processes`` 1) or in ``processes``
    children; see the module docstring.

    :meth:`submit` hands over a chunk's work (:meth:`start_flush` the final flush) and returns
    at once when children do it; :meth:`collect` returns the oldest request's results in
    partition order. Requests may overlap by any number: the children take them in order.
    """

    def __init__(
        self,
        correlators: list[Correlator],
        routing: TileRouting,
        registry: AdminRegistry,
        processes: int = 1,
    ) -> None:
        processes = max(1, min(processes, len(correlators)))
        self._local: _Partitions | None = None
        self._children: list[_Child] = []
        self._requests: list[str] = []  # methods asked for and not collected, oldest first
        self._done: list[list] = []  # results of the local partitions, oldest first
        if processes == 1:
            self._local = _Partitions(dict(enumerate(correlators)), routing, registry)
            return
        # fork: the children inherit the built correlators and warm Numba (module docstring)
        context = multiprocessing.get_context("fork")
        try:
            for i in range(processes):  # loop per process
                mine = {p: c for p, c in enumerate(correlators) if p % processes == i}
                name = f"backfill-correlator-{i}-of-{os.getpid()}"
                self._children.append(_Child(context, _Partitions(mine, routing, registry), name))
        except BaseException:
            self.close()
            raise

    @property
    def processes(self) -> int:
        """Processes that correlate: 1 is this one."""
        return len(self._children) or 1

    def submit(self, work: list[Work]) -> None:
        """Hand over one chunk's work (one item per partition present, any order)."""
        self._request("correlate", work)

    def start_flush(self, horizon_ms: int) -> None:
        """Ask every partition to advance to ``horizon_ms``; :meth:`collect` gives its
        ``(partition, incidents, flags)`` once the chunks submitted before are collected."""
        self._request("flush", horizon_ms)

    def collect(self) -> list:
        """The results of the oldest request not collected, in partition order:
        ``(partition, PartitionResult)`` for a chunk, ``(partition, incidents, flags)`` for a
        flush."""
        method = self._requests.pop(0)
        if self._local is not None:
            return self._done.pop(0)
        return self._gather(method)

    def cell_tests(self) -> int:
        """Cell tests of every partition, each cell counted by the partition that owns it
        (once every request is collected)."""
        if self._local is not None:
            return self._local.cell_tests()
        for child in self._children:
            child.send("cell_tests")
        return sum(child.receive("cell_tests") for child in self._children)

    def close(self) -> None:
        """Stop the children (nothing to do in process); safe to call twice."""
        for child in self._children:
            child.close()
        self._children = []

    def _request(self, method: str, arg: Any) -> None:
        self._requests.append(method)
        if self._local is not None:  # done now, collected in order
            self._done.append(getattr(self._local, method)(arg))
            return
        n = len(self._children)
        for i, child in enumerate(self._children):  # every child replies to every request
            mine = [w for w in arg if w[0] % n == i] if method == "correlate" else arg
            child.send(method, mine)

    def _gather(self, method: str) -> list:
        """Every child's reply to ``method`` (lists of ``(partition, ...)``), merged in
        partition order."""
        replies = [item for child in self._children for item in child.receive(method)]
        return sorted(replies, key=lambda item: item[0])
