"""A real uvicorn server in a background thread, on an ephemeral loopback port."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import httpx
import uvicorn
from fastapi import FastAPI

from tests.support.patience import deadline


class ServerThread:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="test-server", daemon=True)
        self.base_url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        give_up = deadline(10)
        while not self._server.started:
            if time.monotonic() > give_up or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def metric_value(server: ServerThread, line_prefix: str) -> float:
    """The value of one sample on the server's ``/metrics`` (0 when it has none yet)."""
    for line in httpx.get(f"{server.base_url}/metrics").text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
