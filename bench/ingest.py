"""Ingest benchmark: persisted spans per second into driftwatch (SQLite, PostgreSQL) and Arize Phoenix.

Every target gets the same pre-generated load (``../shared/tools/otlp_load.py``'s 1.4 KB GenAI spans,
protobuf batches of 512, 4 concurrent senders, 503/429 retried, fixed seed) and is timed from the first
request until a COUNT query on its store reaches the total: persisted, not merely acknowledged.
A one-batch warm-up goes first, and the clock starts only once the store holds the warm-up spans
(Phoenix acknowledges before it persists, so an unpersisted warm-up would otherwise count as measured).

    python bench/ingest.py --spans 51200 [--targets sqlite,postgresql,phoenix] [--phoenix PATH]

Phoenix runs from its own virtualenv, found through ``--phoenix`` or ``$BENCH_PHOENIX`` (default
/work/venvs/phoenix/bin/phoenix; create it with ``python3 -m venv /work/venvs/phoenix &&
/work/venvs/phoenix/bin/pip install arize-phoenix==20.26.1``). Without it, Phoenix is skipped with a message.

After each measured run, ``--shutdown-check N`` sends N more spans, sends SIGTERM as soon as the
last one is acknowledged, and counts how many acknowledged spans the store holds once the server has exited.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOOLS = REPO.parent / "shared" / "tools"
DEFAULT_PHOENIX = os.environ.get("BENCH_PHOENIX", "/work/venvs/phoenix/bin/phoenix")
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_ADMIN = f"{POSTGRES_SERVER}/postgres"
PHOENIX = "phoenix/sqlite"


@dataclass
class Target:
    name: str
    url: str
    count: Callable[[], int]
    process: subprocess.Popen[bytes]
    log: Path
    cleanup: Callable[[], None] = field(default=lambda: None)
    version: str = ""
    database_url: str = ""  # driftwatch's store, for benchmarks that check what it holds


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


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"server exited with {process.returncode}:\n" + "\n".join(tail))
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def sqlite_counter(path: Path, table: str) -> Callable[[], int]:
    def count() -> int:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as connection:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    return count


def start_driftwatch(backend: str, workdir: Path) -> Target:
    port = free_port()
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    version = ""
    if backend == "sqlite":
        path = workdir / "driftwatch.db"
        url = f"sqlite:///{path}"
        count = sqlite_counter(path, "call")
        version = f"SQLite {sqlite3.sqlite_version}"
    else:
        name = f"dwbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            row = admin.execute("SHOW server_version").fetchone()
            version = f"PostgreSQL {row[0] if row else '?'}"
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

        def count() -> int:
            with psycopg.connect(f"{POSTGRES_SERVER}/{name}") as connection:
                row = connection.execute("SELECT count(*) FROM call").fetchone()
                return int(row[0]) if row else 0

        def cleanup() -> None:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    env = {**os.environ, "DRIFTWATCH_DATABASE_URL": url}
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "driftwatch.cli", "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/healthz", process, log)
    except BaseException:
        stop(process)
        cleanup()
        raise
    return Target(
        f"driftwatch/{backend}", f"{base}/v1/traces", count, process, log, cleanup, version, database_url=url
    )


def find_phoenix(option: str) -> Path | None:
    """The Phoenix executable named by --phoenix / $BENCH_PHOENIX (a path, or a name on PATH)."""
    found = shutil.which(option)
    return Path(found) if found else None


def start_phoenix(executable: Path, workdir: Path) -> Target:
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        # Skips the WASM sandbox download and the docs-MCP connection, which fail offline.
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(executable), "serve"],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz", process, log, timeout=300)
        version = f"arize-phoenix {httpx.get(f'{base}/arize_phoenix_version', timeout=5).text.strip()}"
    except BaseException:
        stop(process)
        raise
    count = sqlite_counter(workdir / "phoenix.db", "spans")
    return Target(PHOENIX, f"{base}/v1/traces", count, process, log, version=version)


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """SIGTERM, then wait; returns the seconds the process took to exit."""
    started = time.perf_counter()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return time.perf_counter() - started


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


def wait_for_count(target: Target, at_least: int, timeout: float, what: str) -> None:
    """Poll every 50 ms at first, then every elapsed/200 s up to 0.5 s: under 0.5 % timing error, and
    a minutes-long drain is not slowed by a COUNT query 20 times a second competing for CPU and the DB."""
    started = time.perf_counter()
    while target.count() < at_least:
        elapsed = time.perf_counter() - started
        if elapsed > timeout:
            raise RuntimeError(f"{target.name}: {what} not persisted after {timeout:.0f} s")
        time.sleep(min(0.5, max(0.05, elapsed / 200)))


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(
    target: Target,
    warmup: list[bytes],
    warmup_spans: int,
    bodies: list[bytes],
    spans: int,
    concurrency: int,
    timeout: float,
) -> dict[str, float]:
    before = target.count()
    asyncio.run(send(target.url, warmup, 1))
    # An acknowledgement is not a commit everywhere (Phoenix persists in a background task): the base
    # count is taken only once the warm-up spans are in the store, or they would count as measured.
    wait_for_count(target, before + warmup_spans, timeout, "warm-up spans")
    base = target.count()
    started = time.perf_counter()
    retries = asyncio.run(send(target.url, bodies, concurrency))
    acked = time.perf_counter() - started
    persisted_at_ack = target.count() - base
    wait_for_count(target, base + spans, timeout - acked, f"{spans} spans")
    persisted = time.perf_counter() - started
    return {
        "spans": spans,
        "acked_s": acked,
        "acked_per_s": spans / acked,
        "persisted_at_ack": persisted_at_ack,
        "persisted_s": persisted,
        "persisted_per_s": spans / persisted,
        "retries": retries,
        "peak_rss_mb": peak_rss_mb(target.process.pid),
    }


def shutdown_check(target: Target, bodies: list[bytes], spans: int, concurrency: int) -> dict[str, float]:
    """Acknowledged spans that survive a SIGTERM sent right after the last acknowledgement."""
    before = target.count()
    asyncio.run(send(target.url, bodies, concurrency))
    exit_s = stop(target.process)
    kept = target.count() - before
    return {"shutdown_acked": spans, "shutdown_kept": kept, "shutdown_exit_s": exit_s}


def machine() -> str:
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        "0",
    )
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "driftwatch"], capture_output=True, text=True
    ).stdout.split("\n")
    changed = [line[3:] for line in dirty if line.strip()]
    return (
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{int(memory) / 2**20:.1f} GiB RAM, {platform.machine()}, Python {platform.python_version()}, "
        f"driftwatch at {commit or '?'}"
        + (f" with uncommitted changes in {', '.join(changed)}" if changed else "")
    )


def shutdown_note(target: Target) -> str:
    text = target.log.read_text(errors="replace")
    found = re.search(r"Span ingestion stopped with .*", text)
    return found.group(0) if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=51_200)
    parser.add_argument(
        "--phoenix-spans",
        type=int,
        default=None,
        help="smaller load for Phoenix only (default: --spans); compare rates, not totals",
    )
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--targets", default="sqlite,postgresql,phoenix")
    parser.add_argument(
        "--phoenix",
        default=DEFAULT_PHOENIX,
        help="Phoenix executable, a path or a name on PATH (default $BENCH_PHOENIX or %(default)s)",
    )
    parser.add_argument(
        "--shutdown-check",
        type=int,
        default=0,
        metavar="SPANS",
        help="after each run, send SPANS more, SIGTERM at the last ack, count what the store kept",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per target to persist")
    parser.add_argument("--tools", type=Path, default=DEFAULT_TOOLS)
    args = parser.parse_args()

    targets = args.targets.split(",")
    phoenix_executable = find_phoenix(args.phoenix)
    if "phoenix" in targets and phoenix_executable is None:
        print(
            f"skipping phoenix: no executable at {args.phoenix!r}; create it with `python3 -m venv "
            "/work/venvs/phoenix && /work/venvs/phoenix/bin/pip install arize-phoenix==20.26.1` or pass "
            "--phoenix PATH (or set BENCH_PHOENIX)",
            flush=True,
        )
        targets.remove("phoenix")

    make_batch = load_batch_maker(args.tools)
    rng = random.Random(20261122)
    batches = args.spans // args.batch
    spans = batches * args.batch
    phoenix_batches = (args.phoenix_spans or args.spans) // args.batch
    shutdown_batches = args.shutdown_check // args.batch
    start_ns = 1_700_000_000_000_000_000
    bodies = [
        make_batch(rng, args.batch, start_ns + index * 10**9)
        for index in range(1 + batches + shutdown_batches)
    ]
    warmup, bodies, shutdown_bodies = bodies[:1], bodies[1 : 1 + batches], bodies[1 + batches :]
    print(machine())
    print(
        f"{spans} spans in {batches} protobuf batches of {args.batch}"
        + (f" ({phoenix_batches * args.batch} for Phoenix)" if phoenix_batches != batches else "")
        + f", avg body {sum(map(len, bodies)) // len(bodies)} bytes, {args.concurrency} senders, "
        f"warm-up {args.batch} spans",
        flush=True,
    )

    results: dict[str, dict[str, float]] = {}
    for name in targets:
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as folder:
            workdir = Path(folder)
            if name == "phoenix":
                assert phoenix_executable is not None
                target = start_phoenix(phoenix_executable, workdir)
                load = bodies[:phoenix_batches]
            else:
                target = start_driftwatch(name, workdir)
                load = bodies
            print(f"{target.name}: {target.version}", flush=True)
            load_before = os.getloadavg()[0]
            try:
                row = measure(
                    target,
                    warmup,
                    args.batch,
                    load,
                    len(load) * args.batch,
                    args.concurrency,
                    args.timeout,
                )
                if shutdown_bodies:
                    row |= shutdown_check(
                        target, shutdown_bodies, len(shutdown_bodies) * args.batch, args.concurrency
                    )
                row["load_before"], row["load_after"] = load_before, os.getloadavg()[0]
                results[target.name] = row
            finally:
                stop(target.process)
                note = shutdown_note(target)
                target.cleanup()
        print(
            f"{target.name:21s} persisted {row['persisted_per_s']:8.0f} spans/s  acked {row['acked_per_s']:8.0f} "
            f"spans/s  ({row['spans']:.0f} spans: acked in {row['acked_s']:.2f} s with "
            f"{row['persisted_at_ack']:.0f} persisted, all persisted in {row['persisted_s']:.2f} s; "
            f"{row['retries']:.0f} retries, peak RSS {row['peak_rss_mb']:.0f} MB, "
            f"1-min load average {row['load_before']:.2f} before, {row['load_after']:.2f} after)",
            flush=True,
        )
        if shutdown_bodies:
            print(
                f"{target.name:21s} shutdown: SIGTERM right after {row['shutdown_acked']:.0f} acked spans; "
                f"exited in {row['shutdown_exit_s']:.1f} s; {row['shutdown_kept']:.0f} of them in the store"
                + (f"; log: {note}" if note else ""),
                flush=True,
            )

    phoenix = results.get(PHOENIX)
    if phoenix:
        for name, row in results.items():
            if name != PHOENIX:
                print(
                    f"{name} / phoenix: persisted {row['persisted_per_s'] / phoenix['persisted_per_s']:.1f}x, "
                    f"acked {row['acked_per_s'] / phoenix['acked_per_s']:.2f}x"
                )


if __name__ == "__main__":
    main()
