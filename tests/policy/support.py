"""Evaluation streams seeded straight into a store, a fixed clock, and the decide job run as in serve."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from driftwatch.config import ClassConfig, Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Decision, DetectorRow, OutboxEvent
from driftwatch.evaluations.writer import insert_counted
from driftwatch.scheduler.jobs import JobContext, run_job
from driftwatch.stats.detector import AlarmThreshold, DetectorState, log_statistic, update

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def stream(rate: float, count: int, seed: int) -> list[bool]:
    """``count`` Bernoulli outcomes (True = acceptable) at ``rate``, reproducible by ``seed``."""
    draw = random.Random(seed)
    return [draw.random() < rate for _ in range(count)]


THRESHOLD = AlarmThreshold()  # the policy defaults, one class: N / alpha = 10^6


def sample_by_sample(outcomes: Sequence[bool], reference: float) -> int | None:
    """Where the detector, fed one outcome at a time, first reaches the threshold (its index)."""
    state = DetectorState(reference)
    for index, outcome in enumerate(outcomes):
        state = update(state, [outcome])
        if log_statistic(state) >= THRESHOLD.log_value:
            return index
    return None


def seed(
    engine: Engine,
    task_class: str,
    outcomes: Sequence[bool | None],
    *,
    tier: str = "cheap",
    source: str = "shadow",
) -> None:
    """Store ``outcomes`` as evaluations of ``task_class`` on ``tier``, in order (ids ascending)."""
    rows: list[dict[str, Any]] = [
        {
            "source": source,
            "external_id": None if source == "shadow" else f"{task_class}-{tier}-{index}-{random.random()}",
            "task_class": task_class,
            "tier": tier,
            "acceptable": acceptable,
            "evaluated_at": NOW - timedelta(hours=1),
            "created_at": NOW - timedelta(hours=1),
        }
        for index, acceptable in enumerate(outcomes)
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), 5_000):
            insert_counted(connection, rows[start : start + 5_000])


def floor_policy(**classes: ClassConfig) -> Policy:
    return Policy(classes=classes)


def watched(floor: float | None = 0.95, **fields: Any) -> ClassConfig:
    return ClassConfig(acceptance_floor=floor, **fields)


def decide(engine: Engine, policy: Policy, now: datetime = NOW) -> str:
    """One ``decide`` run, recorded in job_state, exactly as the scheduler runs it."""
    return run_job("decide", JobContext(engine, Settings(), policy, clock=lambda: now))


def score_drift(engine: Engine, policy: Policy, now: datetime = NOW) -> str:
    """One ``score-drift`` run, as the scheduler runs it after ``decide``."""
    return run_job("score-drift", JobContext(engine, Settings(), policy, clock=lambda: now))


def decisions(engine: Engine, kind: str | None = None) -> list[Decision]:
    with session_factory(engine)() as session:
        query = select(Decision).order_by(Decision.id)
        if kind is not None:
            query = query.where(Decision.kind == kind)
        return list(session.scalars(query))


def events(engine: Engine) -> list[OutboxEvent]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def detector(
    engine: Engine, task_class: str, tier: str = "cheap", feed: str = "listed"
) -> DetectorRow | None:
    with session_factory(engine)() as session:
        return session.get(DetectorRow, (task_class, tier, feed))
