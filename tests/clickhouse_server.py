"""A real ``clickhouse-server`` process for tests, in a temporary folder on free loopback ports.

It runs the distribution's binary with the packaged config, every path and port overridden on
the command line, so it needs no privileges and touches nothing outside its folder. It can be
killed (SIGKILL, as a crash or a pulled plug would) and started again on the same data and port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pipeline.kafka.embedded import _die_with_parent, free_port

__all__ = ["ClickHouseServer", "find_binary", "CONFIG"]

CONFIG = Path("/etc/clickhouse-server/config.xml")


def find_binary() -> str | None:
    """The server binary, or None; Debian installs it under /usr/sbin (not on a user's PATH)."""
    found = shutil.which("clickhouse-server")
    if found:
        return found
    sbin = "/usr/sbin/clickhouse-server"
    return sbin if os.access(sbin, os.X_OK) else None


class ClickHouseServer:
    """``server.start()``; ``server.url(db)``; ``server.kill()``; ``server.start()`` again."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.tcp_port, self.http_port, self.interserver_port = free_port(), free_port(), free_port()
        self._process: subprocess.Popen | None = None

    def url(self, database: str) -> str:
        return f"clickhouse://default@127.0.0.1:{self.tcp_port}/{database}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 60.0) -> ClickHouseServer:
        """Start the server and return once it answers a query on its TCP port."""
        r = self.root
        for sub in ("data", "tmp", "user_files", "format_schemas"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        command = [
            self.binary,
            f"--config-file={CONFIG}",
            "--",
            f"--path={r}/data/",
            f"--tmp_path={r}/tmp/",
            f"--user_files_path={r}/user_files/",
            f"--format_schema_path={r}/format_schemas/",
            f"--logger.log={r}/server.log",
            f"--logger.errorlog={r}/server.err",
            f"--tcp_port={self.tcp_port}",
            f"--http_port={self.http_port}",
            f"--interserver_http_port={self.interserver_port}",
            "--listen_host=127.0.0.1",
        ]
        with open(r / "stdout.log", "ab") as out:
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                # own process group, so kill() takes the whole server down and nothing else
                start_new_session=True,
                # and if pytest itself is killed, the kernel stops the server (the signal follows
                # the *thread* that started it: call start() from the main thread)
                preexec_fn=_die_with_parent,
            )
        self._wait_until_ready(timeout_s)
        return self

    def _wait_until_ready(self, timeout_s: float) -> None:
        from clickhouse_driver import Client

        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"clickhouse-server exited with code {self._process.returncode} at start; "
                    f"see {self.root}/server.err"
                )
            client = Client(host="127.0.0.1", port=self.tcp_port, connect_timeout=1)
            try:
                client.execute("SELECT 1")
                return
            except Exception as exc:  # not listening yet
                last = exc
                time.sleep(0.1)
            finally:
                client.disconnect()
        self.kill()
        raise RuntimeError(f"clickhouse-server did not answer in {timeout_s} s: {last}")

    def kill(self) -> None:
        """SIGKILL the server's process group: no shutdown, no flush, like a crash."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """A clean stop (SIGTERM), SIGKILL after 10 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
