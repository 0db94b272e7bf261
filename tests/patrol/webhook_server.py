"""A real HTTP server on loopback for webhook tests (``http.server`` in a thread): it records
every POST it takes, can answer 503 to the first ones, and can start late (down until then)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """``Gateway(port).start()``; ``taken``: (path, idempotency key, body) per POST answered
    2xx; ``refused_first`` POSTs get 503, ``reject_paths`` always 400."""

    def __init__(self, port: int, refused_first: int = 0, reject_paths: tuple = ()) -> None:
        self.port = port
        self.taken: list[tuple[str, str, dict]] = []
        self.answered: list[int] = []
        self.refused_first = refused_first
        self.reject_paths = reject_paths
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Gateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with gateway._lock:
                    if self.path in gateway.reject_paths:
                        status = 400
                    elif gateway.refused_first > 0:
                        gateway.refused_first -= 1
                        status = 503
                    else:
                        status = 200
                        key = self.headers["Idempotency-Key"]
                        gateway.taken.append((self.path, key, json.loads(body)))
                    gateway.answered.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
