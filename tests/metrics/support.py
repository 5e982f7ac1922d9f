"""A store seeded through the real code paths (runner, decide job, pin) plus webhook rows, and a
``/metrics`` reader that parses the exposition with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from driftwatch.config import ClassConfig, ClassShadowConfig, Policy, Settings, ShadowConfig
from driftwatch.db.engine import session_factory
from driftwatch.db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from driftwatch.ingest.metrics import Metrics
from driftwatch.policy import control
from driftwatch.prices.pricing import PriceTable
from driftwatch.sampling.service import run_sampling
from driftwatch.scheduler.jobs import JobContext, run_job
from driftwatch.shadow.runner import RunnerOptions, ShadowRunner
from tests.shadow.calls import seed_calls
from tests.shadow.memory import EqualityJudge, ScriptedProvider
from tests.support.patience import deadline
from tests.support.server import ServerThread

FLOOR = 0.9
EXTRACTION_BUDGET_USD = 2.0
POLICY = Policy(
    classes={"extraction": ClassConfig(acceptance_floor=FLOOR), "summaries": ClassConfig()},  # pinned below
    shadow=ShadowConfig(
        rate=1.0,
        grace_seconds=0,
        classes={"extraction": ClassShadowConfig(daily_budget_usd=EXTRACTION_BUDGET_USD)},
    ),
)
# The extraction calls' answers: the replay answers "Paris", so three are acceptable and one is not.
ANSWERS = ["PARIS", "PARIS", "PARIS", "Lyon"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True, slots=True)
class Seeded:
    spent_usd: float
    outcomes: list[bool]  # in evaluation order, as the detector consumed them


def utc_now() -> datetime:
    return datetime.now(UTC)


def seed_store(engine: Engine, observer: Metrics | None = None) -> Seeded:
    """Four extraction calls shadow-evaluated by the real runner, the decide job run over them,
    ``summaries`` pinned to mid, and three webhook deliveries (delivered, failed, pending)."""
    for answer in ANSWERS:
        seed_calls(engine, 1, tier="cheap", completion=answer)
    now = utc_now()
    with session_factory(engine).begin() as session:
        run_sampling(session, POLICY, now)
    runner = ShadowRunner(
        engine,
        POLICY,
        {"premium": ScriptedProvider()},
        lambda _task_class: EqualityJudge(cost_usd=0.001),
        PriceTable(),
        RunnerOptions(worker_id="metrics-test"),
        utc_now,
        observer,
    )
    try:
        summary = asyncio.run(runner.run_once())
    finally:
        runner.close()
    assert summary.outcomes == {"acceptable": 3, "unacceptable": 1}, summary.summary()
    run_job("decide", JobContext(engine, Settings(), POLICY, clock=utc_now))
    with session_factory(engine).begin() as session:
        control.pin(session, POLICY, "summaries", "mid", "tester", utc_now())
    seed_deliveries(engine)
    return Seeded(spent_usd=summary.spent_usd, outcomes=[answer == "PARIS" for answer in ANSWERS])


def seed_deliveries(engine: Engine) -> None:
    now = utc_now()
    with session_factory(engine).begin() as session:
        endpoint = WebhookEndpoint(
            name="ops", url="http://127.0.0.1:9/hook", format="standard", secret="whsec_x", source="api"
        )
        endpoint.created_at = now
        session.add(endpoint)
        session.flush()
        for index, (status, attempts) in enumerate((("delivered", 1), ("failed", 3), ("pending", 2))):
            event = OutboxEvent(
                event_type="class.degraded", task_class="extraction", idempotency_key=f"metrics-{index}"
            )
            event.payload, event.created_at = "{}", now
            session.add(event)
            session.flush()
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    status=status,
                    attempts=attempts,
                    next_attempt_at=now,
                    created_at=now - timedelta(minutes=5),
                )
            )


def scrape(server: ServerThread, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of ``/metrics`` by name and labels (the request must succeed)."""
    response = httpx.get(f"{server.base_url}/metrics", headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    return parse(response.text)


def scrape_until(
    server: ServerThread, name: str, wanted: float, seconds: float = 20
) -> tuple[Samples, float]:
    """Scrape until sample ``name`` (unlabelled) reads ``wanted``; the last scrape and the longest any took."""
    give_up, longest = deadline(seconds), 0.0
    while True:
        started = time.monotonic()
        samples = scrape(server)
        longest = max(longest, time.monotonic() - started)
        if value(samples, name) == wanted or time.monotonic() > give_up:
            return samples, longest
        time.sleep(0.05)


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@contextmanager
def stalled_store(engine: Engine, database_url: str) -> Iterator[None]:
    """Make every read of ``decision`` wait until the block ends (a store stuck behind a lock)."""
    if engine.dialect.name == "sqlite":
        # WAL readers never wait for writers, but a connection in exclusive locking mode keeps every
        # other connection out; the engine's own connections must be closed for it to get the lock.
        engine.dispose()
        path = make_url(database_url).database
        assert path is not None
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
            blocker.execute("BEGIN EXCLUSIVE")
            blocker.execute("SELECT count(*) FROM decision").fetchall()
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    with engine.connect() as connection:
        connection.execute(text("LOCK TABLE decision IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            connection.rollback()


@contextmanager
def missing_table(engine: Engine, table: str) -> Iterator[None]:
    """A store whose ``table`` is gone (a failing database, for real), put back afterwards."""
    with engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))
