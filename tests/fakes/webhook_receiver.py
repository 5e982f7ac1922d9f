"""A webhook receiver on a real socket: records every request byte for byte, answers as scripted,
and can go down (socket closed: connection refused) and come back on the same port. Given a server TLS
context it speaks HTTPS and records the name each client asked for (SNI)."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from tests.fakes._serving import serve_in_thread, stop_serving

# Receivers listen on loopback, which webhooks reach only when allowed explicitly: the setting (for
# Settings) and the environment (for a `driftwatch` process) that allow exactly that network.
LOOPBACK_RECEIVERS = ("127.0.0.1/32",)
ALLOW_LOOPBACK_RECEIVERS = {"DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS": ",".join(LOOPBACK_RECEIVERS)}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, receiver: WebhookReceiver, port: int) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", port), _Handler)
        if receiver.tls is not None:
            self.socket = receiver.tls.wrap_socket(self.socket, server_side=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = 10

    def do_POST(self) -> None:
        receiver = cast(_Server, self.server).receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        answer = receiver._answer(request)
        if answer.delay:
            time.sleep(answer.delay)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log line."""


class WebhookReceiver:
    """``answer`` decides each reply (default 200); ``received`` lists every request, oldest first."""

    def __init__(
        self, answer: Callable[[Received], Answer] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.answer = answer or (lambda _request: Answer())
        self.tls = tls
        self.server_names: list[str | None] = []  # SNI of each TLS handshake, oldest first
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    def start(self) -> None:
        self._server = _Server(self, self._port)
        self._port = int(self._server.server_address[1])
        self._thread = serve_in_thread(self._server, "WebhookReceiver")

    def stop(self) -> None:
        """Close the socket: until ``start`` again, connections are refused."""
        stop_serving(self._server, self._thread)
        self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._port}/hooks"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def _answer(self, request: Received) -> Answer:
        with self._lock:
            self._received.append(request)
        return self.answer(request)
