"""Ingest benchmark: persisted spans per second into driftwatch (SQLite, PostgreSQL) and Arize Phoenix.

Every target gets the same pre-generated load (``../shared/tools/otlp_load.py``'s 1.4 KB GenAI spans,
protobuf batches of 512, 4 concurrent senders, 503/429 retried) and is timed from the first request
until a COUNT query on its store reaches the total: persisted, not merely acknowledged.

    python bench/ingest.py --spans 51200 [--targets sqlite,postgresql,phoenix]

Phoenix runs from its own virtualenv (``--phoenix-venv``, default /work/venvs/phoenix: create it with
``python3 -m venv /work/venvs/phoenix && /work/venvs/phoenix/bin/pip install arize-phoenix``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOOLS = REPO.parent / "shared" / "tools"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Target:
    name: str
    url: str
    count: Callable[[], int]
    process: subprocess.Popen[bytes]
    cleanup: Callable[[], None]


def load_batch_maker(tools: Path) -> Callable[[random.Random, int, int], bytes]:
    """otlp_load.py runs its CLI at import; take its batch builder without running the CLI."""
    source = (tools / "otlp_load.py").read_text().replace("asyncio.run(main())", "")
    namespace: dict[str, Any] = {"__name__": "otlp_load"}
    exec(compile(source, str(tools / "otlp_load.py"), "exec"), namespace)
    maker: Callable[[random.Random, int, int], bytes] = namespace["make_batch"]
    return maker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def start_driftwatch(backend: str, workdir: Path) -> Target:
    port = free_port()
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "sqlite":
        path = workdir / "driftwatch.db"
        url = f"sqlite:///{path}"

        def count() -> int:
            with sqlite3.connect(path) as connection:
                return int(connection.execute("SELECT count(*) FROM call").fetchone()[0])

    else:
        name = f"dwbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

        def count() -> int:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as connection:
                row = connection.execute("SELECT count(*) FROM call").fetchone()
                return int(row[0]) if row else 0

        def cleanup() -> None:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    env = {**os.environ, "DRIFTWATCH_DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "driftwatch.cli", "serve", "--port", str(port)], env=env, cwd=workdir
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/healthz", process)
    return Target(f"driftwatch/{backend}", f"{base}/v1/traces", count, process, cleanup)


def start_phoenix(venv: Path, workdir: Path) -> Target:
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_HOST": "127.0.0.1",
    }
    process = subprocess.Popen(
        [str(venv / "bin" / "phoenix"), "serve"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/healthz", process, timeout=300)
    database = workdir / "phoenix.db"

    def count() -> int:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            return int(connection.execute("SELECT count(*) FROM spans").fetchone()[0])

    return Target("phoenix/sqlite", f"{base}/v1/traces", count, process, lambda: None)


async def send(url: str, bodies: list[bytes], concurrency: int) -> int:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    retries = 0
    async with httpx.AsyncClient(timeout=300) as client:

        async def worker() -> None:
            nonlocal retries
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    response = await client.post(
                        url, content=body, headers={"content-type": "application/x-protobuf"}
                    )
                    if response.status_code == 200:
                        break
                    if response.status_code not in (429, 503):
                        raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
                    retries += 1
                    await asyncio.sleep(float(response.headers.get("retry-after", "0.2")))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return retries


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(
    target: Target, warmup: list[bytes], bodies: list[bytes], spans: int, concurrency: int
) -> dict[str, float]:
    asyncio.run(send(target.url, warmup, 1))
    base = target.count()
    started = time.perf_counter()
    retries = asyncio.run(send(target.url, bodies, concurrency))
    acked = time.perf_counter() - started
    while target.count() < base + spans:
        if time.perf_counter() - started > 900:
            raise RuntimeError(f"{target.name}: not all spans persisted after 900 s")
        time.sleep(0.05)
    persisted = time.perf_counter() - started
    return {
        "acked_per_s": spans / acked,
        "persisted_per_s": spans / persisted,
        "seconds": persisted,
        "retries": retries,
        "peak_rss_mb": peak_rss_mb(target.process.pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=51_200)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--targets", default="sqlite,postgresql,phoenix")
    parser.add_argument("--phoenix-venv", type=Path, default=Path("/work/venvs/phoenix"))
    parser.add_argument("--tools", type=Path, default=DEFAULT_TOOLS)
    args = parser.parse_args()

    make_batch = load_batch_maker(args.tools)
    rng = random.Random(20261122)
    batches = args.spans // args.batch
    spans = batches * args.batch
    start_ns = 1_700_000_000_000_000_000
    bodies = [make_batch(rng, args.batch, start_ns + index * 10**9) for index in range(batches + 1)]
    warmup, bodies = bodies[:1], bodies[1:]
    print(
        f"{spans} spans in {batches} protobuf batches of {args.batch}, avg body "
        f"{sum(map(len, bodies)) // len(bodies)} bytes, {args.concurrency} senders"
    )

    results: dict[str, dict[str, float]] = {}
    for name in args.targets.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as folder:
            workdir = Path(folder)
            target = (
                start_phoenix(args.phoenix_venv, workdir)
                if name == "phoenix"
                else start_driftwatch(name, workdir)
            )
            try:
                results[target.name] = measure(target, warmup, bodies, spans, args.concurrency)
            finally:
                target.process.send_signal(signal.SIGTERM)
                try:
                    target.process.wait(30)
                except subprocess.TimeoutExpired:
                    target.process.kill()
                target.cleanup()
        row = results[target.name]
        print(
            f"{target.name:20s} persisted {row['persisted_per_s']:8.0f} spans/s  acked {row['acked_per_s']:8.0f} "
            f"spans/s  ({row['seconds']:.1f} s, {row['retries']:.0f} retries, peak RSS {row['peak_rss_mb']:.0f} MB)"
        )

    phoenix = results.get("phoenix/sqlite")
    if phoenix:
        for name, row in results.items():
            if name != "phoenix/sqlite":
                print(
                    f"{name} / phoenix persisted ratio: {row['persisted_per_s'] / phoenix['persisted_per_s']:.1f}x"
                )


if __name__ == "__main__":
    main()
