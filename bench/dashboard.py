"""Dashboard benchmark: latency of ``GET /v1/dashboard`` on a store the size of 10 million calls.

The dashboard never reads ``call``: volume comes from the hourly rollup ``class_hour``, and quality
from ``evaluation_hour`` (kept with ``evaluation``) except in the one-hour view.  So the seed is what a store of ``--calls`` calls over 30 days holds in the tables the
endpoint reads, written directly (no ingest run):

* ``class_hour``: ``--classes`` classes x their tiers (every class on cheap, a fifth also on mid,
  a fifth on premium) x 720 hours, the calls adding up to ``--calls``;
* ``--rate`` of the cheap-tier calls shadow-evaluated: that many ``call`` rows (the sampled ones),
  one ``shadow_sample`` (done) and one ``evaluation`` each, spread over the 30 days (acceptance
  95%, one class falling to 70% in its last 3 days);
* per class and day a ``shadow_spend`` row, a detector row per class on its floor, 3 decisions and
  an open recommendation per fifth class, and a webhook delivery (with one attempt) per decision.

Then the ``score-drift`` job stores its comparisons, as ``serve`` would, and a real server (uvicorn,
in this process) answers ``--repeat`` requests per query after one warm-up (``/v1/dashboard`` per
range, ``GET /v1/classes`` over the same windows); the script prints the median, the 95th
percentile and the slowest, the median CPU time of the process (server and client: the figure to
compare between runs on a busy machine), and the response size.

    python bench/dashboard.py [--backend sqlite|postgresql] [--calls 10000000] [--classes 50]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import uvicorn
from sqlalchemy import Connection, Engine, insert, select

from driftwatch.api.app import create_app
from driftwatch.config import ClassConfig, Policy, Settings
from driftwatch.db import migrate
from driftwatch.db.base import Base
from driftwatch.db.engine import build_engine
from driftwatch.db.models import (
    Call,
    ClassHour,
    Decision,
    DetectorRow,
    Evaluation,
    OutboxEvent,
    Recommendation,
    ShadowSample,
    ShadowSpend,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from driftwatch.evaluations.writer import insert_counted
from driftwatch.scheduler.jobs import JOBS, JobContext, run_job

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOURS = 30 * 24
CHUNK = 20_000
TIER_MODELS = {"cheap": "claude-haiku-4-5", "mid": "claude-sonnet-4-6", "premium": "claude-opus-4-7"}
PRICES = {"cheap": (1.0, 5.0), "mid": (3.0, 15.0), "premium": (5.0, 25.0)}


def tiers_of(index: int) -> list[str]:
    return ["cheap"] + (["mid"] if index % 5 == 1 else []) + (["premium"] if index % 5 == 2 else [])


def bulk(
    engine: Engine,
    table: type[Base],
    rows: Iterator[dict[str, Any]],
    write: Callable[[Connection, list[dict[str, Any]]], object] | None = None,
) -> int:
    """Insert ``rows`` in chunks; ``write`` instead of a plain insert (evaluations keep their rollup)."""

    def plain(connection: Connection, chunk: list[dict[str, Any]]) -> object:
        return connection.execute(insert(table), chunk)

    count, chunk = 0, []
    with engine.begin() as connection:
        for row in rows:
            chunk.append(row)
            if len(chunk) == CHUNK:
                (write or plain)(connection, chunk)
                count, chunk = count + len(chunk), []
        if chunk:
            (write or plain)(connection, chunk)
    return count + len(chunk)


def seed(engine: Engine, now: datetime, calls: int, classes: int, rate: float) -> dict[str, int]:
    names = [f"class-{index:03d}" for index in range(classes)]
    series = [(name, tier) for index, name in enumerate(names) for tier in tiers_of(index)]
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS)
    per_hour = calls // (len(series) * HOURS)

    def hours() -> Iterator[dict[str, Any]]:
        for name, tier in series:
            price_in, price_out = PRICES[tier]
            for hour in range(HOURS):
                moment = start + timedelta(hours=hour)
                tokens_in, tokens_out = per_hour * 800, per_hour * 200
                yield {
                    "task_class": name, "tier": tier, "hour": moment, "calls": per_hour,
                    "input_tokens": tokens_in, "output_tokens": tokens_out, "priced_calls": per_hour,
                    "cost_usd": (tokens_in * price_in + tokens_out * price_out) / 1e6,
                    "first_seen": moment, "last_seen": moment + timedelta(minutes=59),
                }  # fmt: skip

    counts = {"class_hour": bulk(engine, ClassHour, hours())}
    cheap_calls = per_hour * HOURS * classes
    sampled = int(cheap_calls * rate)
    draw = random.Random(20261126)
    moments = sorted(start + timedelta(seconds=draw.uniform(0, HOURS * 3600)) for _ in range(sampled))
    owners = [names[draw.randrange(classes)] for _ in range(sampled)]

    def sampled_calls() -> Iterator[dict[str, Any]]:
        for number, (moment, name) in enumerate(zip(moments, owners, strict=True)):
            yield {
                "id": number + 1, "trace_id": f"{number:032x}", "span_id": f"{number:016x}", "start_time": moment,
                "task_class": name, "tier": "cheap", "model": TIER_MODELS["cheap"], "input_tokens": 800,
                "output_tokens": 200, "status": "ok", "source": "otlp",
            }  # fmt: skip

    def samples() -> Iterator[dict[str, Any]]:
        for number, (moment, name) in enumerate(zip(moments, owners, strict=True)):
            yield {
                "id": number + 1, "call_id": number + 1, "task_class": name, "tier": "cheap",
                "reference_tier": "premium", "direction": "forward", "status": "done", "attempts": 1,
                "not_before": moment, "created_at": moment, "updated_at": moment,
            }  # fmt: skip

    def evaluations() -> Iterator[dict[str, Any]]:
        dropped_after = now - timedelta(days=3)
        for number, (moment, name) in enumerate(zip(moments, owners, strict=True)):
            good = 0.70 if name == names[0] and moment > dropped_after else 0.95
            yield {
                "source": "shadow", "sample_id": number + 1, "call_id": number + 1, "task_class": name,
                "tier": "cheap", "model": TIER_MODELS["cheap"], "reference_tier": "premium",
                "acceptable": draw.random() < good, "score": draw.random(), "judge": "exact",
                "shadow_cost_usd": 0.01, "judge_cost_usd": 0.0, "evaluated_at": moment, "created_at": moment,
            }  # fmt: skip

    counts["call (sampled ones)"] = bulk(engine, Call, sampled_calls())
    counts["shadow_sample"] = bulk(engine, ShadowSample, samples())
    counts["evaluation"] = bulk(engine, Evaluation, evaluations(), insert_counted)
    counts.update(seed_decisions(engine, now, names))
    return counts


def seed_decisions(engine: Engine, now: datetime, names: list[str]) -> dict[str, int]:
    days = [(now - timedelta(days=offset)).date().isoformat() for offset in range(30)]
    spend = [
        {"task_class": name, "day": day, "reserved_usd": 0.0, "spent_usd": 3.5}
        for name in names
        for day in days
    ]
    detectors = [
        {"task_class": name, "tier": "cheap", "reference_rate": 0.9, "reference_source": "floor", "state": None,
         "samples": 0, "last_evaluation_id": 0, "baseline_accepted": 0, "baseline_total": 0,
         "started_at": now - timedelta(days=30)}
        for name in names
    ]  # fmt: skip
    decisions, events = [], []
    for index, name in enumerate(names):
        for step, kind in enumerate(("degraded", "promoted", "recommended")):
            moment = now - timedelta(days=index % 30, hours=step)
            decisions.append(
                {"task_class": name, "kind": kind, "from_tier": "cheap", "to_tier": "mid", "actor": "driftwatch",
                 "reason": f"{kind} (bench)", "evidence": "{}", "created_at": moment}
            )  # fmt: skip
            events.append(
                {"event_type": f"class.{kind}", "task_class": name, "idempotency_key": uuid.uuid4().hex,
                 "payload": "{}", "created_at": moment}
            )  # fmt: skip
    recommendations = [
        {"task_class": name, "from_tier": "premium", "to_tier": "mid", "status": "open",
         "monthly_savings_usd": 250.0, "savings_low_usd": 200.0, "savings_high_usd": 300.0,
         "shadow_cost_monthly_usd": 12.0, "evidence": "{}", "created_at": now - timedelta(days=1)}
        for index, name in enumerate(names) if index % 5 == 2
    ]  # fmt: skip
    with engine.begin() as connection:
        for table, rows in (
            (ShadowSpend, spend), (DetectorRow, detectors), (Decision, decisions), (OutboxEvent, events),
            (Recommendation, recommendations),
        ):  # fmt: skip
            connection.execute(insert(table), rows)
        endpoint = connection.execute(
            insert(WebhookEndpoint).returning(WebhookEndpoint.id),
            {"name": "ops", "url": "https://hooks.example.com/x", "format": "standard", "secret": "s",
             "source": "api", "created_at": now},
        ).scalar_one()  # fmt: skip
        event_ids = list(connection.scalars(select(OutboxEvent.id)))
        deliveries = [
            {"id": number + 1, "endpoint_id": endpoint, "event_id": event_id, "status": "delivered",
             "attempts": 1, "next_attempt_at": now, "created_at": now, "finished_at": now}
            for number, event_id in enumerate(event_ids)
        ]  # fmt: skip
        connection.execute(insert(WebhookDelivery), deliveries)
        connection.execute(
            insert(WebhookAttempt),
            [{"delivery_id": row["id"], "attempted_at": now, "status_code": 200, "latency_ms": 40.0}
             for row in deliveries],
        )  # fmt: skip
    return {"shadow_spend": len(spend), "decision": len(decisions), "webhook_delivery": len(deliveries)}


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dwbench-dashboard-") as folder:
            yield f"sqlite:///{folder}/driftwatch.db"
        return
    name = f"dwbench_dashboard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving(engine: Engine, url: str, policy: Policy) -> Iterator[str]:
    app = create_app(Settings(database_url=url, scheduler=False), policy, engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def queries(now: datetime) -> list[tuple[str, dict[str, str]]]:
    """The dashboard's ranges, then ``GET /v1/classes`` (its first page) over the same windows."""
    dashboard = [
        {"range": "24h"},
        {"range": "7d"},
        {"range": "30d"},
        {"range": "30d", "task_class": "class-000"},
    ]
    windows = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
    classes = [{"since": (now - length).isoformat()} for length in windows.values()]
    return [("/v1/dashboard", params) for params in dashboard] + [
        ("/v1/classes", params) for params in classes
    ]


def percentile(timings: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest timing at least ``share`` of them do not exceed."""
    ordered = sorted(timings)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def timed_get(
    client: httpx.Client, url: str, repeat: int, params: dict[str, str] | None = None
) -> tuple[str, httpx.Response]:
    """``repeat`` requests after one warm-up: a line with the median, p95 and slowest wall time, the
    median CPU time of this process (the server runs in it) and the answer's size."""
    client.get(url, params=params).raise_for_status()
    timings, processor = [], []
    for _ in range(repeat):
        began, used = time.perf_counter(), time.process_time()
        response = client.get(url, params=params)
        timings.append(time.perf_counter() - began)
        processor.append(time.process_time() - used)
        response.raise_for_status()
    shown = url + ("?" + "&".join(f"{key}={value}" for key, value in params.items()) if params else "")
    line = (
        f"GET {shown}: median {statistics.median(timings) * 1000:.0f} ms, "
        f"p95 {percentile(timings, 0.95) * 1000:.0f} ms, slowest {max(timings) * 1000:.0f} ms, "
        f"CPU median {statistics.median(processor) * 1000:.0f} ms, {len(response.content) / 1024:.0f} KiB"
    )
    return line, response


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--rate", type=float, default=0.05, help="shadow-evaluated share of cheap-tier calls")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    policy = Policy(
        tier_models=TIER_MODELS,
        classes={f"class-{index:03d}": ClassConfig(acceptance_floor=0.9) for index in range(args.classes)},
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with database(args.backend) as url:
        engine = build_engine(url)
        migrate.upgrade(engine)
        now = datetime.now(UTC)
        began = time.perf_counter()
        counts = seed(engine, now, args.calls, args.classes, args.rate)
        print(f"seeded {args.backend} in {time.perf_counter() - began:.0f} s: {counts}")
        if "score-drift" in JOBS:  # absent before the job existed: the bench also measures older commits
            began = time.perf_counter()
            summary = run_job("score-drift", JobContext(engine, Settings(database_url=url), policy))
            print(f"score-drift job: {summary} in {time.perf_counter() - began:.1f} s")
        with serving(engine, url, policy) as base, httpx.Client(base_url=base, timeout=120) as client:
            for path, params in queries(now):
                print(timed_get(client, path, args.repeat, params)[0])
        engine.dispose()


if __name__ == "__main__":
    main()
