"""The recommend job over time, on SQLite and PostgreSQL: superseding, withdrawing, concurrent replicas."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
from sqlalchemy import Engine, update

from driftwatch.config import Settings
from driftwatch.db.models import ClassHour, Decision, OutboxEvent, Recommendation
from driftwatch.scheduler.jobs import JOBS, JobContext
from tests.policy.test_recommendations import (
    NOW,
    TRAFFIC,
    policy,
    recommend,
    rows,
    seed_reverse,
    seed_traffic,
)


def test_materially_changed_savings_supersede_the_open_recommendation(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)
    recommend(engine, policy())
    with engine.begin() as connection:  # twice the traffic on every day
        connection.execute(update(ClassHour).values(input_tokens=ClassHour.input_tokens * 2))

    assert "recommended 1" in recommend(engine, policy())

    old, new = rows(engine, Recommendation)
    assert (old.status, new.status) == ("superseded", "open")
    assert [row.kind for row in rows(engine, Decision)].count("withdrawn") == 1
    assert orjson.loads(new.evidence)["supersedes"] == [old.id]
    assert new.monthly_savings_usd > old.monthly_savings_usd
    assert len(rows(engine, OutboxEvent)) == 2


def test_an_open_recommendation_is_withdrawn_when_parity_is_lost(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)
    recommend(engine, policy())
    seed_reverse(engine, accepted=0, rejected=40)

    assert "no parity 1" in recommend(engine, policy())
    [rec] = rows(engine, Recommendation)
    assert rec.status == "superseded"
    [withdrawn] = [row for row in rows(engine, Decision) if row.kind == "withdrawn"]
    assert withdrawn.reason == f"recommendation {rec.id} withdrawn: parity no longer holds"
    assert orjson.loads(withdrawn.evidence)["recommendation_id"] == rec.id


def test_two_replicas_running_at_once_write_one_recommendation(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)
    context = JobContext(engine, Settings(), policy(), clock=lambda: NOW)
    barrier = threading.Barrier(2)

    def replica(_: int) -> str:
        barrier.wait()
        return JOBS["recommend"](context)

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(replica, range(2)))

    assert sorted(summaries) == ["demotion candidates: open 1", "demotion candidates: recommended 1"]
    assert len(rows(engine, Recommendation)) == 1 and len(rows(engine, OutboxEvent)) == 1
