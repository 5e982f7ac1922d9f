"""The premium provider misbehaves for a while (429, 500, garbage, no answer), then recovers: the real
OpenAI SDK over HTTP against the fake server, the scheduler's jobs run as in serve, on both stores.
Retries back off, the daily budget is never exceeded, the runner recovers by itself, and what failed
is visible per class."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine, select

from driftwatch.config import JudgeConfig, Policy, ProviderConfig, Settings, ShadowConfig
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ShadowSample, ShadowSpend
from driftwatch.overview.classes import class_overview
from driftwatch.scheduler.jobs import JobContext, run_job
from tests.fakes.openai_server import FakeOpenAIServer
from tests.notify.support import Clock
from tests.shadow.calls import NOW, seed_calls

SAMPLES = 24
BUDGET_USD = 0.05  # reservations (upper estimates) for a few replays at a time; real spend is far less


def _policy(server: FakeOpenAIServer) -> Policy:
    provider = ProviderConfig(
        kind="openai", model="gpt-4o", base_url=server.base_url, timeout_seconds=0.5, max_retries=1
    )
    shadow = ShadowConfig(
        rate=1.0, grace_seconds=0, daily_budget_usd=BUDGET_USD, judges=(JudgeConfig(kind="exact"),)
    )
    return Policy(providers={"premium": provider}, shadow=shadow)


def _statuses(engine: Engine) -> Counter[str]:
    with session_factory(engine)() as session:
        return Counter(
            getattr(status, "value", status) for status in session.scalars(select(ShadowSample.status))
        )


def test_a_misbehaving_provider_is_retried_within_budget_and_the_runner_recovers(engine: Engine) -> None:
    seed_calls(engine, SAMPLES, tier="cheap", completion="positive")
    with FakeOpenAIServer(reply="positive", prompt_tokens=30, completion_tokens=2) as server:
        clock = Clock(NOW + timedelta(minutes=1))
        context = JobContext(engine, Settings(), _policy(server), clock=clock, environ={})
        run_job("sample", context)
        server.fail_next(429, times=8, retry_after=0)
        server.fail_next(500, times=8)
        server.respond_next(200, "{not json", times=6)
        for _ in range(4):  # the bad stretch: every answer is an error
            run_job("evaluate", context)
            clock.advance(minutes=2)
        server.delay = 1.0  # then no answer within the 0.5 s timeout
        run_job("evaluate", context)
        clock.advance(minutes=2)
        server.delay = 0.0
        during = _statuses(engine)
        for _ in range(12):  # healthy again: the queue drains on its own schedule
            run_job("evaluate", context)
            clock.advance(minutes=5)
        requests = len(server.requests)

    after = _statuses(engine)
    assert during["pending"] > 0  # the errors were retried later, not given up at once
    assert after["pending"] == after["running"] == 0
    assert after["done"] > SAMPLES // 2 and after["done"] + after["failed"] == SAMPLES
    # At most max_attempts (5) claims per sample, each the SDK's try plus its one retry.
    assert requests <= SAMPLES * 5 * 2
    with session_factory(engine)() as session:
        spent = sum(session.scalars(select(ShadowSpend.spent_usd)))
        held = sum(session.scalars(select(ShadowSpend.reserved_usd)))
        last_errors = set(
            session.scalars(select(ShadowSample.last_error).where(ShadowSample.status == "failed"))
        )
        quality = class_overview(session, context.policy, None, None, clock(), with_scores=False).quality
    assert 0 < spent <= BUDGET_USD and held == 0  # failed and timed-out attempts gave their reservation back
    (extraction,) = [entry for entry in quality if entry.task_class == "extraction"]
    shown = extraction.shadow.samples
    assert (shown.done, shown.failed, shown.pending) == (after["done"], after["failed"], 0)
    assert extraction.evaluation.evaluations == after["done"]
    assert all(error for error in last_errors)  # each failure says why
