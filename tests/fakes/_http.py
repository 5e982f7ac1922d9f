"""Shared machinery of the fake LLM provider servers.

The fakes are real HTTP servers on 127.0.0.1 with an ephemeral port, so the real ``openai`` and
``anthropic`` clients (and the instrumentations that patch them) run their whole code path: request
building, HTTP, response parsing. Only the model is fake.

Design choices, and why:
- stdlib ``ThreadingHTTPServer`` in a daemon thread: no extra dependency, works from sync and async tests.
- HTTP/1.0 with ``Connection: close``: every response ends its connection, so no keep-alive handler
  thread outlives a test and closing the server never waits on a client that forgot to close.
- Every request is recorded (method, path, headers, parsed JSON body) for assertions, thread-safely.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from tests.fakes._serving import serve_in_thread, stop_serving

JsonObject = dict[str, Any]
"""A parsed JSON object (request or response body)."""

Reply = str | Callable[[JsonObject], str]
"""The assistant's text: fixed, or computed from the request body (e.g. to answer per model)."""

ToolCall = tuple[str, JsonObject]
"""A function the fake assistant calls: its name and its arguments."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, as the client sent it."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: JsonObject
    """The JSON body; ``{}`` when the body was empty or not a JSON object."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters (the last value of each), for fakes of GET endpoints."""


@dataclass
class _Response:
    status: int
    body: JsonObject | str
    """A JSON object, or a raw string sent as is (to script a malformed body)."""
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    """The socket server; ``fake`` points back at the object that answers requests."""

    daemon_threads = True

    def __init__(self, fake: FakeLLMServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = 10  # a connected client that never sends must not block shutdown for long

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed: object = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        body = parsed if isinstance(parsed, dict) else {}
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            query=dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)),
        )
        response = fake._handle(request)
        raw_body = response.body
        payload = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        # The client may have given up first (a client-timeout test): nothing left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log line."""


class FakeLLMServer:
    """Base of the provider fakes: lifecycle, request log, failure injection, artificial latency.

    Subclasses set ``route`` and implement ``_complete`` (a successful answer) and ``_error_body``.
    Use as a context manager; ``base_url`` is valid only inside the ``with`` block.
    """

    route: str = ""
    """The one path the fake answers (POST); any other path gets a 404."""

    def __init__(self, *, reply: Reply = "positive", delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        """Seconds to sleep before answering, for client-timeout tests."""
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripted: list[_Response] = []
        self._answers = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("server already started")
        self._server = _Server(self)
        self._thread = serve_in_thread(self._server, type(self).__name__)

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started; use it inside `with`")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the provider SDK client's ``base_url``."""
        return self.url

    # -- assertions and scripting ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests this fake was answering at one moment (delay included), for
        client-side concurrency-limit tests."""
        with self._lock:
            return self._max_in_flight

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with an error ``status`` in the provider's error shape.

        ``retry_after`` adds a ``Retry-After`` header (seconds), which the SDKs honour when retrying;
        ``headers`` adds any others (``retry-after-ms``, a ``Retry-After`` HTTP date).
        Failed requests are recorded like any other.
        """
        extra = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        extra.update(headers or {})
        self.respond_next(status, self._error_body(status, "injected failure"), times=times, headers=extra)

    def respond_next(
        self,
        status: int,
        body: JsonObject | str,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with exactly this ``status`` and ``body``, whatever was asked.

        A ``str`` body is sent as is under ``Content-Type: application/json``, so a test can script a
        malformed answer; a dict is a hand-made answer (empty ``choices``, an odd shape).
        """
        response = _Response(status, body, dict(headers or {}))
        with self._lock:
            self._scripted.extend(response for _ in range(times))

    # -- request handling --------------------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> _Response:
        with self._lock:
            self._requests.append(request)
            scripted = self._scripted.pop(0) if self._scripted else None
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(request, scripted)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request: RecordedRequest, scripted: _Response | None) -> _Response:
        if request.method != "POST" or request.path != self.route:
            return _Response(404, self._error_body(404, f"no route {request.method} {request.path}"))
        if scripted is not None:
            return scripted
        if request.body.get("stream"):
            return _Response(400, self._error_body(400, "the fake does not stream"))
        if not isinstance(request.body.get("model"), str):
            return _Response(400, self._error_body(400, "`model` is required"))
        return _Response(200, self._complete(request.body))

    def _response_id(self, fixed: str | None, prefix: str) -> str:
        """A fixed id when one was configured, else a new one per answer, as real providers give."""
        if fixed is not None:
            return fixed
        with self._lock:
            self._answers += 1
            return f"{prefix}{self._answers:06d}"

    def _reply_text(self, body: JsonObject) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def _complete(self, body: JsonObject) -> JsonObject:
        raise NotImplementedError

    def _error_body(self, status: int, message: str) -> JsonObject:
        raise NotImplementedError
