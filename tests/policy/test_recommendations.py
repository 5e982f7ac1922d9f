"""The recommend job on SQLite and PostgreSQL: parity from reverse evaluations, savings, audit, events."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, insert, select

from driftwatch.config import ClassConfig, DecisionConfig, Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import (
    ClassHour,
    ClassPolicy,
    Decision,
    OutboxEvent,
    Recommendation,
    ShadowCostDay,
    ShadowSample,
    ShadowSpend,
)
from driftwatch.evaluations.writer import insert_counted
from driftwatch.routing.routes import move_class
from driftwatch.scheduler.jobs import JobContext, run_job
from tests.shadow.calls import seed_calls

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TODAY = datetime(2026, 11, 25, tzinfo=UTC)
MODELS = {"cheap": "claude-haiku-4-5", "mid": "claude-sonnet-4-6", "premium": "claude-opus-4-7"}
T_975_2 = 4.302652729911275  # Student's t, 97.5% quantile, 2 degrees of freedom


def policy(**config: Any) -> Policy:
    return Policy(
        tier_models=config.pop("tier_models", MODELS),
        classes={"extraction": ClassConfig(tier="premium", **config)},
        decisions=DecisionConfig(parity_min_samples=200, parity_acceptance=0.95),
    )


def seed_reverse(
    engine: Engine, accepted: int, rejected: int, *, direction: str = "reverse", at: datetime = NOW
) -> None:
    """Decided evaluations of extraction: ``mid`` replays judged against ``premium`` calls."""
    call_ids = seed_calls(engine, accepted + rejected + 1, tier="premium", model=MODELS["premium"])
    samples = [
        {
            "call_id": call_id,
            "task_class": "extraction",
            "tier": "premium",
            "reference_tier": "mid",
            "direction": direction,
            "status": "done",
            "attempts": 1,
            "not_before": at,
            "created_at": at,
            "updated_at": at,
        }
        for call_id in call_ids
    ]
    with engine.begin() as connection:
        sample_ids = (
            connection.execute(insert(ShadowSample).returning(ShadowSample.id), samples).scalars().all()
        )
        outcomes: list[bool | None] = [True] * accepted + [False] * rejected + [None]
        insert_counted(
            connection,
            [
                {
                    "source": "shadow",
                    "sample_id": sample_id,
                    "task_class": "extraction",
                    "tier": "mid",
                    "model": MODELS["mid"],
                    "reference_tier": "premium",
                    "reference_model": MODELS["premium"],
                    "acceptable": acceptable,
                    "evaluated_at": at - timedelta(hours=1),
                    "created_at": at - timedelta(hours=1),
                }
                for sample_id, acceptable in zip(sample_ids, outcomes, strict=True)
            ],
        )


def seed_traffic(engine: Engine, tokens: list[tuple[int, int]], spend: float = 0.5) -> None:
    """One class_hour row (10:00) on each of the days before today, and ``spend`` of shadow spend on
    each day's calls, all of it spent today (when the evaluations ran)."""
    with engine.begin() as connection:
        for back, (input_tokens, output_tokens) in enumerate(reversed(tokens), start=1):
            day = TODAY - timedelta(days=back)
            connection.execute(
                insert(ClassHour).values(
                    task_class="extraction",
                    tier="premium",
                    hour=day + timedelta(hours=10),
                    calls=1000,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cost_usd=1.0,
                    priced_calls=1000,
                    first_seen=day,
                    last_seen=day,
                )
            )
            connection.execute(
                insert(ShadowCostDay).values(
                    task_class="extraction", day=day.date().isoformat(), spent_usd=spend
                )
            )
        today = {"task_class": "extraction", "day": TODAY.date().isoformat(), "reserved_usd": 0.0}
        connection.execute(insert(ShadowSpend).values(**today, spent_usd=spend * len(tokens)))


def recommend(engine: Engine, chosen: Policy, now: datetime = NOW) -> str:
    return run_job("recommend", JobContext(engine, Settings(), chosen, clock=lambda: now))


def rows(engine: Engine, model: Any) -> list[Any]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def route_extraction(engine: Engine, **fields: Any) -> None:
    """A routing row keeping extraction on premium, with ``fields`` (a pin, a cool-down) set."""
    row = ClassPolicy(task_class="extraction", tier="premium", updated_at=NOW, updated_by="ann", **fields)
    with session_factory(engine).begin() as session:
        session.add(row)


TRAFFIC = [(1_000_000, 200_000), (2_000_000, 400_000), (3_000_000, 600_000)]


def test_parity_gives_one_recommendation_with_its_savings_audit_row_and_event(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)

    summary = recommend(engine, policy())
    again = recommend(engine, policy())

    assert "recommended 1" in summary and "open 1" in again
    [rec] = rows(engine, Recommendation)
    assert (rec.task_class, rec.from_tier, rec.to_tier, rec.status) == (
        "extraction",
        "premium",
        "mid",
        "open",
    )
    # Opus 4.7 ($5/$25) -> Sonnet 4.6 ($3/$15): $2 and $10 saved per million input and output tokens.
    # Days: 2 + 2 = 4, 4 + 4 = 8, 6 + 6 = 12 dollars gross; less $0.50 spent evaluating each day's
    # calls (all of it spent today); less the forward sampling mid would start: 5% of the day's tokens
    # replayed on Opus (10, 20, 30 dollars: 0.5, 1, 1.5), judging free so far. Net 3, 6.5, 10.
    assert rec.monthly_savings_usd == pytest.approx(30 * 6.5)
    half = 30 * T_975_2 * 3.5 / math.sqrt(3)  # sd of (3, 6.5, 10) is 3.5
    assert rec.savings_low_usd == pytest.approx(195 - half)
    assert rec.savings_high_usd == pytest.approx(195 + half)
    assert rec.shadow_cost_monthly_usd == pytest.approx(15.0 + 30.0)
    evidence = orjson.loads(rec.evidence)
    assert evidence["counts"] == {"evaluations": 300, "accepted": 295, "undecided": 1}
    assert evidence["acceptance"] == pytest.approx(295 / 300)
    assert 0.95 <= evidence["lower_bound"] < 295 / 300
    assert (evidence["bar"], evidence["bar_source"]) == (0.95, "parity_acceptance")
    assert evidence["savings"]["gross_monthly_usd"] == pytest.approx(240.0)
    assert evidence["savings"]["shadow_monthly_usd"] == pytest.approx(15.0)
    assert evidence["savings"]["forward_shadow_monthly_usd"] == pytest.approx(30.0)
    forward = evidence["savings"]["forward_shadow"]
    assert (forward["rate"], forward["reference_model"], forward["daily_budget_usd"]) == (
        0.05,
        "claude-opus-4-7",
        5.0,
    )
    assert evidence["savings"]["volume"] == {"days": 3, "input_tokens": 6_000_000, "output_tokens": 1_200_000}
    assert evidence["models"] == {"from": "claude-opus-4-7", "to": "claude-sonnet-4-6"}
    assert evidence["prices_per_mtok"]["to"] == {
        "input_per_mtok": 3.0,
        "output_per_mtok": 15.0,
        "cache_read_per_mtok": 0.3,
        "cache_write_per_mtok": 3.75,
    }
    [decision] = rows(engine, Decision)
    assert decision.kind == "recommended" and decision.actor == "driftwatch"
    assert f"{decision.from_tier}->{decision.to_tier}" == "premium->mid"
    assert orjson.loads(decision.evidence)["recommendation_id"] == rec.id
    [event] = rows(engine, OutboxEvent)
    assert event.event_type == "class.demotion_recommended"
    assert orjson.loads(event.payload)["recommendation_id"] == rec.id


@pytest.mark.parametrize(
    ("accepted", "rejected", "outcome"),
    [(195, 4, "too few samples 1"), (270, 30, "no parity 1")],
)
def test_without_enough_evidence_of_parity_nothing_is_recommended(
    engine: Engine, accepted: int, rejected: int, outcome: str
) -> None:
    seed_reverse(engine, accepted=accepted, rejected=rejected)
    seed_traffic(engine, TRAFFIC)

    assert outcome in recommend(engine, policy())
    assert rows(engine, Recommendation) == [] and rows(engine, Decision) == []


def test_forward_evaluations_and_evidence_from_before_the_class_arrived_do_not_count(engine: Engine) -> None:
    # Forward samples of mid calls carry the same (tier, reference tier) pair as reverse ones.
    seed_reverse(engine, accepted=300, rejected=0, direction="forward")
    seed_reverse(engine, accepted=300, rejected=0, at=NOW - timedelta(days=2))
    seed_traffic(engine, TRAFFIC)
    with session_factory(engine).begin() as session:
        for tier, when in (("mid", NOW - timedelta(days=3)), ("premium", NOW - timedelta(days=1))):
            move_class(
                session,
                policy(),
                task_class="extraction",
                to_tier=tier,
                kind="demoted" if tier == "mid" else "promoted",
                actor="driftwatch",
                reason="test",
                evidence={},
                now=when,
            )

    assert "too few samples 1" in recommend(engine, policy())


def test_an_unknown_price_leaves_the_savings_null_with_the_reason(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)

    recommend(engine, policy(tier_models={**MODELS, "mid": "house-model-7"}))

    [rec] = rows(engine, Recommendation)
    assert rec.monthly_savings_usd is None and rec.savings_low_usd is None
    reason = orjson.loads(rec.evidence)["savings"]["reason"]
    assert "house-model-7" in reason and "prices" in reason


def test_auto_demote_applies_the_recommendation(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)

    assert "demoted 1" in recommend(engine, policy(auto_demote=True))

    [rec] = rows(engine, Recommendation)
    assert (rec.status, rec.decided_by) == ("accepted", "driftwatch")
    assert [(d.kind, d.to_tier, d.actor) for d in rows(engine, Decision)] == [
        ("recommended", "mid", "driftwatch"),
        ("accepted", "mid", "driftwatch"),
        ("demoted", "mid", "driftwatch"),
    ]
    assert [e.event_type for e in rows(engine, OutboxEvent)] == [
        "class.demotion_recommended",
        "class.demoted",
    ]
    with session_factory(engine)() as session:
        route = session.get_one(ClassPolicy, "extraction")
        assert route.tier == "mid" and route.cooldown_until is not None
    # Now on mid, the class waits for evidence of parity on cheap; the applied one is not redone.
    assert "too few samples 1" in recommend(engine, policy(auto_demote=True))
    assert len(rows(engine, Recommendation)) == 1


def test_a_pinned_class_is_left_alone(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)
    route_extraction(engine, pinned=True)

    assert "pinned 1" in recommend(engine, policy(auto_demote=True))
    assert rows(engine, Recommendation) == []


def test_auto_demote_waits_for_the_cool_down(engine: Engine) -> None:
    seed_reverse(engine, accepted=295, rejected=5)
    seed_traffic(engine, TRAFFIC)
    cooling = NOW + timedelta(hours=6)
    route_extraction(engine, cooldown_until=cooling)

    assert "recommended 1" in recommend(engine, policy(auto_demote=True))
    assert "demoted 1" in recommend(engine, policy(auto_demote=True), now=cooling + timedelta(minutes=1))
    [rec] = rows(engine, Recommendation)
    assert rec.status == "accepted"
