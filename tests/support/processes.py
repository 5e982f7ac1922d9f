"""Helpers for tests that run `driftwatch serve` as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(process: subprocess.Popen[str], base_url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early with {process.returncode}: {process.communicate()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("serve did not become healthy in time")


def start_serve(
    folder: Path, settings: dict[str, str], log: IO[str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`driftwatch serve` on a free port with a SQLite store in ``folder`` and ``DRIFTWATCH_*``
    ``settings`` (no inherited policy file or auth switch); returns the process and its base URL.

    Output goes to pipes for ``communicate()``, or to ``log`` (both streams) for a process that runs
    long enough to fill a pipe nobody reads: a full pipe blocks every thread that logs."""
    port = free_port()
    env = {**os.environ, "DRIFTWATCH_DATABASE_URL": f"sqlite:///{folder / 'served.db'}", **settings}
    for name in ("DRIFTWATCH_POLICY_FILE", "DRIFTWATCH_REQUIRE_AUTH"):
        if name not in settings:
            env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "driftwatch.cli", "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE if log is None else log,
        stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s; output left in pipes is read and dropped."""
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
