"""Shadow-evaluation benchmark: evaluations per second against a provider with 1 s latency, and memory.

Seeds a store with sampled cheap-tier calls, starts ``bench/provider_server.py`` (an OpenAI-compatible
server answering after ``--latency`` seconds) in its own process, and drains the queue through the
real runner: the OpenAI SDK over HTTP, the exact-label judge, a budget reservation and a committed
evaluation per sample.  Reports evaluations/s (overall and after the first second) and the process's
resident memory over the run (flat memory means the peak does not grow with the number of samples).

    python bench/shadow.py --samples 12000 --in-flight 512 [--postgresql] [--provider replay]

``--provider replay`` swaps the HTTP provider for a :class:`ReplayProvider` sleeping ``--latency``:
the runner's and the store's own ceiling, without the SDK and HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import orjson
import psycopg
from sqlalchemy import Engine, func, insert, select

from driftwatch.config import Policy
from driftwatch.db import migrate
from driftwatch.db.engine import build_engine, session_factory
from driftwatch.db.models import Call, Evaluation
from driftwatch.prices.pricing import PriceTable
from driftwatch.sampling.service import run_sampling
from driftwatch.shadow.judges.chain import build_judge_chain
from driftwatch.shadow.providers.base import Message
from driftwatch.shadow.providers.replay import ReplayProvider
from driftwatch.shadow.runner import RunnerOptions, ShadowRunner
from driftwatch.shadow.setup import shadow_runner

REPO = Path(__file__).resolve().parents[1]
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
# One per process, so that runs side by side (e.g. before and after a change) do not drop each other's.
SCRATCH_DATABASE = f"driftwatch_bench_shadow_{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _store(postgresql: bool, folder: Path) -> Engine:
    if not postgresql:
        engine = build_engine(f"sqlite:///{folder / 'bench.db'}")
    else:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {SCRATCH_DATABASE}")
        engine = build_engine(f"{POSTGRES_SERVER}/{SCRATCH_DATABASE}")
    migrate.upgrade(engine)
    return engine


QUESTION = "What is the capital of France? One word."


def _seed(engine: Engine, samples: int, policy: Policy) -> None:
    prompt = orjson.dumps([{"role": "user", "content": QUESTION}])
    now = datetime.datetime.now(datetime.UTC)
    rows = [
        {
            "trace_id": secrets.token_hex(16),
            "span_id": secrets.token_hex(8),
            "start_time": now,
            "task_class": f"class-{index % 20}",
            "tier": "cheap",
            "model": "gpt-4o-mini",
            "input_tokens": 14,
            "output_tokens": 2,
            "prompt": prompt.decode(),
            "completion": "paris",
            "status": "ok",
            "source": "otlp",
        }
        for index in range(samples)
    ]
    with engine.begin() as connection:
        for start in range(0, samples, 5000):
            connection.execute(insert(Call), rows[start : start + 5000])
    while True:
        with session_factory(engine).begin() as session:
            if run_sampling(session, policy, now, batch_size=50_000).scanned == 0:
                return


def _evaluations(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(Evaluation)) or 0


@contextlib.asynccontextmanager
async def _runner(
    engine: Engine,
    policy: Policy,
    options: RunnerOptions,
    clock: Callable[[], datetime.datetime],
    args: argparse.Namespace,
) -> AsyncIterator[ShadowRunner]:
    """The runner as ``driftwatch evaluate`` builds it, or (``--provider replay``) the same runner on a
    :class:`ReplayProvider` that sleeps ``--latency`` instead of calling over HTTP: the runner's and the
    store's own ceiling."""
    if args.provider != "replay":
        async with shadow_runner(engine, policy, options, clock, os.environ) as runner:
            yield runner
        return
    provider = ReplayProvider.from_mapping(
        {(Message("user", QUESTION),): "Paris"},
        model="gpt-4o",
        latency_seconds=args.latency,
        max_concurrency=args.in_flight,
    )
    prices = PriceTable(policy.price_table())
    judge = build_judge_chain(policy.shadow.judges_for("any"), {"premium": provider}, "premium", prices)
    runner = ShadowRunner(engine, policy, {"premium": provider}, lambda _: judge, prices, options, clock)
    try:
        yield runner
    finally:
        runner.close()


async def _drain(engine: Engine, policy: Policy, args: argparse.Namespace) -> dict[str, float]:
    options = RunnerOptions(worker_id="bench", batch_size=args.batch, max_in_flight=args.in_flight)
    clock = lambda: datetime.datetime.now(datetime.UTC)  # noqa: E731
    rss: list[float] = [_rss_mib()]
    async with _runner(engine, policy, options, clock, args) as runner:
        started, cpu_started = time.perf_counter(), time.process_time()

        async def watch() -> None:
            while True:
                await asyncio.sleep(0.5)
                rss.append(_rss_mib())

        watcher = asyncio.create_task(watch())

        # Two overlapping runs keep the provider busy while one run waits for its slowest answers.
        async def worker() -> None:
            while (await runner.run_once()).claimed:
                pass

        await asyncio.gather(worker(), worker())
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        watcher.cancel()
    evaluated = _evaluations(engine)
    quarter = max(1, len(rss) // 4)
    return {
        "evaluations": evaluated,
        "seconds": elapsed,
        "per_second": evaluated / elapsed,
        # CPU of this process (runner, SDK, store client; not the provider server, not PostgreSQL)
        # per evaluation: the load of other processes disturbs it less than the wall rate.
        "cpu_ms_per_evaluation": 1000 * cpu / max(1, evaluated),
        "rss_start_mib": rss[0],
        "rss_q1_mib": max(rss[:quarter]),
        "rss_peak_mib": max(rss),
        "rss_last_quarter_mib": max(rss[-quarter:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=12_000)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--in-flight", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument(
        "--provider",
        choices=("openai", "replay"),
        default="openai",
        help="openai: the OpenAI SDK over HTTP to bench/provider_server.py; replay: no HTTP, the runner alone",
    )
    args = parser.parse_args()

    port = _free_port()
    command = [sys.executable, str(REPO / "bench" / "provider_server.py"), "--port", str(port)]
    server = subprocess.Popen([*command, "--latency", str(args.latency)])
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)  # any answer means it is up
                break
            except httpx.TransportError:
                time.sleep(0.1)
        policy = Policy.model_validate(
            {
                "providers": {
                    "premium": {
                        "kind": "openai",
                        "model": "gpt-4o",
                        "base_url": f"http://127.0.0.1:{port}/v1",
                        "max_concurrency": args.in_flight,
                        "timeout_seconds": 30,
                    }
                },
                "shadow": {
                    "rate": 1.0,
                    "grace_seconds": 0,
                    "daily_budget_usd": 1e9,
                    "judges": [{"kind": "exact"}],
                },
            }
        )
        with tempfile.TemporaryDirectory() as folder:
            engine = _store(args.postgresql, Path(folder))
            _seed(engine, args.samples, policy)
            figures = asyncio.run(_drain(engine, policy, args))
            engine.dispose()
            if args.postgresql:
                with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
    finally:
        server.terminate()
        server.wait()

    store = "postgresql" if args.postgresql else "sqlite"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"store {store}; provider {args.provider}, latency {args.latency}s; in flight {args.in_flight}"
    )
    for name, value in figures.items():
        print(f"{name}: {value:,.1f}")


if __name__ == "__main__":
    main()
