"""The demo's webhook receiver: a local HTTP endpoint that verifies each delivery's Standard Webhooks
signature, as a real receiver should, and keeps what arrived."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY = 1_000_000


@dataclass(frozen=True, slots=True)
class Delivered:
    event_type: str
    task_class: str | None
    verified: bool


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: DemoReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY))
        verified = cast(_Server, self.server).receiver.take(body, dict(self.headers.items()))
        self.send_response(204 if verified else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo reports deliveries itself."""


class DemoReceiver:
    def __init__(self) -> None:
        self.secret: str | None = None
        self._lock = threading.Lock()
        self._delivered: list[Delivered] = []
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/driftwatch-events"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def delivered(self) -> list[Delivered]:
        with self._lock:
            return list(self._delivered)

    def take(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            event = Webhook(self.secret or "").verify(body, headers) if self.secret else None
        except WebhookVerificationError:
            event = None
        verified = isinstance(event, dict)
        parsed: dict[str, Any] = event if isinstance(event, dict) else _loose(body)
        data = parsed.get("data")
        data = data if isinstance(data, dict) else {}
        with self._lock:
            self._delivered.append(Delivered(str(parsed.get("type")), data.get("task_class"), verified))
        return verified


def _loose(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
