"""Running a stdlib socket server in a daemon thread, shared by the fakes."""

from __future__ import annotations

import threading
from socketserver import BaseServer


def serve_in_thread(server: BaseServer, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll interval
        name=name,
        daemon=True,
    )
    thread.start()
    return thread


def stop_serving(server: BaseServer | None, thread: threading.Thread | None) -> None:
    """Stop accepting, close the socket (new connections are refused) and wait for the loop to end."""
    if server is None:
        return
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join()
