"""Sampling benchmark: how fast one run of the ``sample`` job works off a backlog, and what a run
with nothing new costs before and after its look-back has settled.

Seeds ``--calls`` cheap-tier calls (ten classes) into a fresh store, then:

1. one ``sample`` run over the whole backlog (batches of ``--batch``, no time budget): calls/s;
2. runs with no new calls, as the scheduler makes them every 10 s: right away (the look-back still
   covers the ids passed less than a minute ago: up to ``--lookback`` of them, as before issue 17 on
   every run), and once ``SETTLE_SECONDS`` have passed twice (the watermark has moved past them).

The look-back only runs on PostgreSQL (``--lookback`` there is what ``serve`` uses with the default
settings: 3 writer threads x 20,000 spans); on SQLite it is 0.

    python bench/sample.py [--backend sqlite|postgresql] [--calls 200000]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import time
from datetime import UTC, datetime, timedelta

from dashboard import database
from sqlalchemy import insert

from driftwatch.config import Policy, ShadowConfig
from driftwatch.db import migrate
from driftwatch.db.engine import build_engine
from driftwatch.db.models import Call
from driftwatch.sampling.service import SETTLE_SECONDS, sample_backlog


def seed(url: str, calls: int, now: datetime) -> None:
    engine = build_engine(url)
    migrate.upgrade(engine)
    rows = [
        {
            "trace_id": secrets.token_hex(16),
            "span_id": f"{index:016x}",
            "start_time": now,
            "task_class": f"class-{index % 10}",
            "tier": "cheap",
            "model": "claude-haiku-4-5",
            "input_tokens": 900,
            "output_tokens": 250,
            "cost_usd": 0.002,
            "status": "ok",
            "source": "otlp",
        }
        for index in range(calls)
    ]
    with engine.begin() as connection:
        for start in range(0, calls, 20_000):
            connection.execute(insert(Call), rows[start : start + 20_000])
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--lookback", type=int, default=60_000)
    args = parser.parse_args()
    lookback = 0 if args.backend == "sqlite" else args.lookback
    policy = Policy(shadow=ShadowConfig(rate=0.05))
    now = datetime.now(UTC)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with database(args.backend) as url:
        seed(url, args.calls, now)
        engine = build_engine(url)
        try:

            def run(at: datetime) -> tuple[float, str]:
                began = time.perf_counter()
                result = sample_backlog(
                    engine,
                    policy,
                    lambda: at,
                    batch_size=args.batch,
                    lookback_ids=lookback,
                    time_budget_seconds=float("inf"),
                )
                return time.perf_counter() - began, result.summary()

            seconds, summary = run(now)
            print(f"{args.backend}: backlog of {args.calls} calls in one run: {seconds:.2f} s")
            print(f"  {args.calls / seconds:,.0f} calls/s; {summary}")
            settle = timedelta(seconds=SETTLE_SECONDS)
            for label, at in (
                ("nothing new, right away", now + timedelta(seconds=10)),
                ("nothing new, look-back settled", now + 2 * settle),
                ("nothing new, after that", now + 2 * settle + timedelta(seconds=10)),
            ):
                seconds, summary = run(at)
                print(f"  {label}: {seconds * 1000:.0f} ms; {summary}")
        finally:
            engine.dispose()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
