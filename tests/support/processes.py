"""Helpers for tests that run `driftwatch serve` as a real process.

Every process :func:`start_serve` starts is ended after its test by :func:`end_started_processes`
(an autouse fixture in ``tests/conftest.py``), whatever the test did: one that fails half-way, or
whose process never became healthy, leaves nothing running behind it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.patience import deadline, patient

_started: list[subprocess.Popen[str]] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(process: subprocess.Popen[str], base_url: str, seconds: float = 20) -> None:
    """Wait until ``GET /healthz`` answers 200: ``seconds`` on a quiet machine, longer under load."""
    give_up = deadline(seconds)
    while time.monotonic() < give_up:
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
    folder: Path, settings: dict[str, str], log: IO[str] | None = None, *, ends_with_test: bool = True
) -> tuple[subprocess.Popen[str], str]:
    """`driftwatch serve` on a free port with a SQLite store in ``folder`` and ``DRIFTWATCH_*``
    ``settings`` (no inherited policy file or auth switch); returns the process and its base URL.

    The process is ended after the test that started it; a fixture shared by several tests passes
    ``ends_with_test=False`` and ends it itself (in a ``finally``).

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
    if ends_with_test:
        _started.append(process)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s; output left in pipes is read and dropped."""
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def end_started_processes() -> list[int]:
    """Kill every process :func:`start_serve` started that still runs, and reap them all; returns
    the pids it had to kill."""
    killed = []
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            killed.append(process.pid)
        process.communicate()  # reaps it and closes its pipes
    return killed


def run_to_end(command: list[str], seconds: float, **options: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True)`` with a timeout of ``seconds`` on a
    quiet machine (longer under load), in a session of its own: whether it finishes, times out or
    the test is interrupted, every process it started is killed too (`driftwatch demo` starts a
    `driftwatch serve`, which would outlive a demo killed by a timeout)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **options
    )
    try:
        stdout, stderr = process.communicate(timeout=patient(seconds))
    except BaseException:
        _kill_session(process)
        process.communicate()
        raise
    finally:
        _kill_session(process)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _kill_session(process: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
