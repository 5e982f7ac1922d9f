"""Stores for the routing-policy and manual-control tests: a policy with models per tier, and
recommendations, traffic and tier changes written straight into the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import Engine, insert, select

from driftwatch.config import ClassConfig, Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassHour, ClassPolicy, Recommendation
from driftwatch.routing.routes import move_class

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MODELS = {"cheap": "gpt-4o-mini", "mid": "claude-sonnet-4-6", "premium": "claude-opus-4-7"}
POLICY = Policy(
    tier_models=MODELS,
    classes={"summaries": ClassConfig(tier="premium"), "extraction": ClassConfig(tier="mid")},
)
POLICY_YAML = """
tier_models: {cheap: gpt-4o-mini, mid: claude-sonnet-4-6, premium: claude-opus-4-7}
classes:
  summaries: {tier: premium}
  extraction: {tier: mid}
"""


def recommend(
    engine: Engine,
    task_class: str = "summaries",
    *,
    from_tier: str = "premium",
    to_tier: str = "mid",
    status: str = "open",
    minutes: int = 0,
) -> int:
    """An open (or ``status``) demotion recommendation, as the recommend job writes it."""
    with session_factory(engine).begin() as session:
        rec = Recommendation(
            task_class=task_class,
            from_tier=from_tier,
            to_tier=to_tier,
            status=status,
            monthly_savings_usd=1200.0,
            savings_low_usd=900.0,
            savings_high_usd=1500.0,
            shadow_cost_monthly_usd=12.5,
            evidence=orjson.dumps({"accepted": 396, "total": 400}).decode(),
            created_at=NOW + timedelta(minutes=minutes),
        )
        session.add(rec)
        session.flush()
        return rec.id


def seen(engine: Engine, task_class: str, tier: str = "cheap", hours: int = 1) -> None:
    """Traffic of ``task_class`` in the hourly rollup."""
    rows = [
        {
            "task_class": task_class,
            "tier": tier,
            "hour": NOW - timedelta(hours=hour),
            "calls": 10,
            "input_tokens": 1000,
            "output_tokens": 300,
            "cost_usd": 0.01,
            "priced_calls": 10,
            "first_seen": NOW - timedelta(hours=hour),
            "last_seen": NOW - timedelta(hours=hour),
        }
        for hour in range(hours)
    ]
    with engine.begin() as connection:
        connection.execute(insert(ClassHour), rows)


def promote(
    engine: Engine, task_class: str, to_tier: str, policy: Policy = POLICY, now: datetime = NOW
) -> None:
    """A tier change by the decide job (starts the class's cool-down)."""
    with session_factory(engine).begin() as session:
        move_class(
            session,
            policy,
            task_class=task_class,
            to_tier=to_tier,
            kind="promoted",
            actor="driftwatch",
            reason="test",
            evidence={},
            now=now,
        )


def routing_row(engine: Engine, task_class: str) -> ClassPolicy | None:
    with session_factory(engine)() as session:
        return session.scalar(select(ClassPolicy).where(ClassPolicy.task_class == task_class))


def recommendation(engine: Engine, recommendation_id: int) -> Recommendation:
    with session_factory(engine)() as session:
        rec = session.get(Recommendation, recommendation_id)
        assert rec is not None
        return rec
