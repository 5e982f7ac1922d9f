"""One store the dashboard tests look at: three classes over six days, a drop in two of them, the
decide job's real promotion and alert, an open recommendation, shadow spend and webhook deliveries.

Calls go in through the ingest store's own batch writer (so ``class_hour`` is the real rollup);
evaluations, recommendation, spend and webhook rows are inserted as the stages that own them write
them.  :class:`Expected` holds the figures worked out here by hand, for the tests to compare.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.config import ClassConfig, DecisionConfig, Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import (
    OutboxEvent,
    Recommendation,
    ShadowSpend,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from driftwatch.evaluations.writer import insert_counted
from driftwatch.ingest.store import commit_batch
from driftwatch.prices.pricing import PriceTable
from driftwatch.scheduler.jobs import JobContext, run_job

POLICY = Policy(
    tier_models={"cheap": "claude-haiku-4-5", "mid": "claude-sonnet-4-6", "premium": "claude-opus-4-7"},
    classes={
        "extraction": ClassConfig(acceptance_floor=0.9, auto_promote=True),
        "tagging": ClassConfig(acceptance_floor=0.9, auto_promote=False),
        "summaries": ClassConfig(acceptance_floor=0.8),
        "codegen": ClassConfig(tier="premium"),
    },
    decisions=DecisionConfig(sources=("shadow", "human-review")),  # the reviews below may promote
)

# class → tier, model, calls per day, input and output tokens per call
TRAFFIC = {
    "extraction": ("cheap", "claude-haiku-4-5", 40, 1000, 200),
    "summaries": ("cheap", "gpt-4o-mini", 30, 2000, 500),
    "tagging": ("cheap", "gemini-2.5-flash", 20, 500, 50),
    "codegen": ("premium", "claude-opus-4-7", 10, 3000, 1000),
}
TRAFFIC_DAYS = 3
EVALUATION_DAYS = 6
PER_DAY = 50
HEALTHY, DROPPED = 49, 30  # acceptable of PER_DAY on a healthy day and after the drop
SHADOW_SPENT = {
    ("extraction", 2): 1.25,
    ("extraction", 1): 2.5,
    ("extraction", 0): 0.75,
    ("summaries", 0): 0.5,
}
RECOMMENDED = (123.45, 100.0, 146.9)


@dataclass
class Expected:
    now: datetime
    calls: dict[str, int] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)
    saved: dict[str, float] = field(default_factory=dict)
    decided: dict[str, int] = field(default_factory=dict)
    acceptable: dict[str, int] = field(default_factory=dict)
    evaluation_times: dict[str, list[tuple[datetime, bool]]] = field(default_factory=dict)

    @property
    def total_cost(self) -> float:
        return sum(self.cost.values())

    @property
    def total_saved(self) -> float:
        return sum(self.saved.values())


def price(model: str, input_tokens: int, output_tokens: int) -> float:
    prices = PriceTable(POLICY.price_table()).price(model)
    assert prices is not None, model
    return (input_tokens * prices.input_per_mtok + output_tokens * prices.output_per_mtok) / 1e6


def seed(engine: Engine, now: datetime | None = None) -> Expected:
    now = now or datetime.now(UTC)
    expected = Expected(now=now)
    _calls(engine, expected)
    _evaluations(engine, expected)
    run_job("decide", JobContext(engine, Settings(), POLICY, clock=lambda: now))
    _rest(engine, now)
    return expected


def _calls(engine: Engine, expected: Expected) -> None:
    rows = []
    for task_class, (tier, model, per_day, input_tokens, output_tokens) in TRAFFIC.items():
        cost = price(model, input_tokens, output_tokens)
        for day in range(TRAFFIC_DAYS):
            for index in range(per_day):
                start = expected.now - timedelta(days=day, hours=2, seconds=index)
                rows.append(_call(task_class, tier, model, start, input_tokens, output_tokens, cost))
        calls = per_day * TRAFFIC_DAYS
        expected.calls[task_class] = calls
        expected.cost[task_class] = calls * cost
        if tier != "premium":
            top = price("claude-opus-4-7", input_tokens, output_tokens)
            expected.saved[task_class] = calls * (top - cost)
    commit_batch(engine, rows, [], expected.now)


def _call(
    task_class: str,
    tier: str,
    model: str,
    start: datetime,
    input_tokens: int,
    output_tokens: int,
    cost: float,
) -> dict[str, Any]:
    return {
        "trace_id": os.urandom(16).hex(),
        "span_id": os.urandom(8).hex(),
        "parent_span_id": None,
        "start_time": start,
        "end_time": start + timedelta(seconds=1),
        "service": "router-app",
        "task_class": task_class,
        "tier": tier,
        "operation": "chat",
        "provider": "anthropic",
        "model": model,
        "response_id": None,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_usd": cost,
        "prompt": None,
        "completion": None,
        "status": "ok",
        "status_message": None,
        "source": "otlp",
    }


def _evaluations(engine: Engine, expected: Expected) -> None:
    """Six days of verdicts per class, oldest first (the detector reads them in id order); extraction
    and tagging drop from 98% to 60% acceptable for the last two days."""
    rows = []
    for task_class in ("extraction", "tagging", "summaries"):
        outcomes: list[tuple[datetime, bool]] = []
        for day in reversed(range(EVALUATION_DAYS)):
            good = DROPPED if day < 2 and task_class != "summaries" else HEALTHY
            for index in range(PER_DAY):
                moment = (
                    expected.now - timedelta(days=day, hours=1) - timedelta(minutes=20 * (PER_DAY - index))
                )
                # Spread the unacceptable ones through the day rather than bunching them at its end.
                outcomes.append((moment, (index * good) % PER_DAY < good))
        rows += [
            {
                "source": "human-review",
                "external_id": f"{task_class}-{number:05d}",
                "task_class": task_class,
                "tier": "cheap",
                "acceptable": acceptable,
                "evaluated_at": moment,
                "created_at": moment,
            }
            for number, (moment, acceptable) in enumerate(outcomes)
        ]
        expected.evaluation_times[task_class] = outcomes
        expected.decided[task_class] = len(outcomes)
        expected.acceptable[task_class] = sum(ok for _, ok in outcomes)
    with engine.begin() as connection:
        insert_counted(connection, rows)


def _rest(engine: Engine, now: datetime) -> None:
    with session_factory(engine).begin() as session:
        monthly, low, high = RECOMMENDED
        session.add(
            Recommendation(
                task_class="codegen",
                from_tier="premium",
                to_tier="mid",
                status="open",
                monthly_savings_usd=monthly,
                savings_low_usd=low,
                savings_high_usd=high,
                shadow_cost_monthly_usd=4.5,
                evidence="{}",
                created_at=now - timedelta(hours=1),
            )
        )
        for (task_class, days_ago), spent in SHADOW_SPENT.items():
            day = (now - timedelta(days=days_ago)).date().isoformat()
            session.add(ShadowSpend(task_class=task_class, day=day, reserved_usd=0.0, spent_usd=spent))
        endpoint = WebhookEndpoint(
            name="ops-alerts",
            url="https://hooks.example.com/driftwatch",
            format="standard",
            events=None,
            secret="whsec_test",
            source="api",
            created_at=now - timedelta(days=7),
        )
        session.add(endpoint)
        session.flush()
        events = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        outcomes = [("delivered", 200, None), ("failed", None, "connection refused")]
        for event, (status, code, error) in zip(events, outcomes * len(events), strict=False):
            delivery = WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=event.id,
                status=status,
                attempts=1,
                next_attempt_at=now,
                created_at=event.created_at,
                finished_at=now,
                last_error=error,
            )
            session.add(delivery)
            session.flush()
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id, attempted_at=now, status_code=code, latency_ms=12.0, error=error
                )
            )


def new_key(engine: Engine, name: str = "dashboard") -> str:
    with session_factory(engine).begin() as session:
        return create_key(session, name, scopes={Scope.READ}).key
