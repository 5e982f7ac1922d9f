"""The ``recommend`` job: demotion recommendations for classes whose cheaper tier shows parity.

For each class on a tier above the cheapest, not pinned:

* **Parity.** The decided reverse evaluations (``shadow_sample.direction = 'reverse'``: the cheaper
  tier's replay judged against the class's own answer) of the last :data:`PARITY_WINDOW`, and only
  those since the class last arrived on its tier (evidence from before a promotion says nothing about
  the tier that was just found degraded).  With at least ``decisions.parity_min_samples`` of them, the
  one-sided 95% Clopper-Pearson lower bound of their acceptance must reach the class's bar: its
  ``acceptance_floor`` when it declares one (the SLO the detector will hold it to on the cheaper tier,
  so a demotion meets exactly the standard that would otherwise promote it back), else
  ``decisions.parity_acceptance``.
* **Savings.** :mod:`savings` over the complete days of the last 30 the class ran on its tier (from
  ``class_hour``), at the prices of the models routers use on each tier (``Policy.model_for``), net
  of the class's shadow spend on those days' calls (``shadow_cost_day``) and of the forward shadow
  sampling it would start on the cheaper tier at its configured rate.  Known savings that are not
  positive: no recommendation.
* **Recommendation.** One open recommendation per class: a new one is written (with its audit row
  ``recommended`` and the event ``class.demotion_recommended``) when there is none, or when the open
  one is stale — the class left its tier, or the projected net savings moved by more than
  :data:`MATERIAL_CHANGE` of the old figure (at least $1), or became known or unknown; the stale one is
  marked ``superseded``.  An open recommendation whose parity no longer holds (or whose savings fell to
  nothing) is likewise marked ``superseded`` without a successor.
* **auto_demote.** A class with ``auto_demote`` on, not pinned and out of its cool-down, has its
  recommendation accepted at once by ``driftwatch``, exactly as a person accepts one
  (:func:`control.accept`: audit rows ``accepted`` and ``demoted``, event ``class.demoted``).

The job checks ``CHUNK_CLASSES`` classes per transaction, each holding its ``job_state`` row (``FOR
UPDATE`` on PostgreSQL), so two replicas take turns on every class and never write two
recommendations for one, and ingest keeps committing on SQLite however many classes there are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, object_session

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import job_state
from driftwatch.db.models import Decision, Evaluation, Recommendation, ShadowSample
from driftwatch.db.models.evaluation import SHADOW_SOURCE
from driftwatch.events.outbox import emit
from driftwatch.policy import control
from driftwatch.policy.savings import ForwardShadow, Savings, project_savings
from driftwatch.policy.traffic import daily_volumes, judge_cost_per_evaluation
from driftwatch.prices.pricing import PriceTable
from driftwatch.routing.routes import (
    SYSTEM_ACTOR,
    ClassRoute,
    current_route,
    record_decision,
    routes,
)
from driftwatch.sampling.rules import SampleDirection
from driftwatch.stats.reference import baseline_reference

RECOMMEND_JOB = "recommend"
PARITY_WINDOW = timedelta(days=14)
VOLUME_DAYS = 30
CONFIDENCE = 0.95
MATERIAL_CHANGE = 0.2


@dataclass(slots=True)
class RecommendResult:
    """What happened to each class checked, counted by outcome (``recommended``, ``too few samples``, …)."""

    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        parts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(self.counts.items()))
        return f"demotion candidates: {parts or 'none'}"


@dataclass(frozen=True, slots=True)
class Parity:
    holds: bool
    accepted: int
    total: int
    lower_bound: float | None
    bar: float
    evidence: dict[str, Any]


CHUNK_CLASSES = 100  # classes checked per transaction


def run_recommendations(
    engine: Engine,
    policy: Policy,
    now: datetime,
    *,
    stopping: Callable[[], bool] = lambda: False,
    chunk: int = CHUNK_CLASSES,
) -> RecommendResult:
    """Every class above the cheapest tier checked once: which ones is read first (no lock), then they
    are checked ``chunk`` classes per transaction, each holding the job's ``job_state`` row.
    ``stopping`` is asked between transactions; a stopped run leaves the rest to the next one."""
    sessions = session_factory(engine)
    with sessions() as session:
        above = [
            route.task_class
            for route in routes(session, policy)
            if route.tier in policy.tiers and policy.tier_below(route.tier) is not None
        ]
    result = RecommendResult()
    prices = PriceTable(policy.price_table())
    for start in range(0, len(above), chunk):
        if stopping():
            break
        with sessions.begin() as session:
            job_state(session, RECOMMEND_JOB)  # serialises replicas for the rest of the transaction
            for task_class in above[start : start + chunk]:
                route = current_route(session, policy, task_class)  # locks the class's routing row
                if route.tier in policy.tiers and policy.tier_below(route.tier) is not None:  # not moved down
                    result.counts[_recommend(session, policy, prices, route, now)] += 1
    return result


def _recommend(session: Session, policy: Policy, prices: PriceTable, route: ClassRoute, now: datetime) -> str:
    if route.pinned:
        return "pinned"
    below = policy.tier_below(route.tier)
    assert below is not None
    opened = list(
        session.scalars(
            select(Recommendation)
            .where(Recommendation.task_class == route.task_class, Recommendation.status == "open")
            .order_by(Recommendation.id.desc())
        )
    )
    if any(rec.from_tier != route.tier for rec in opened):
        # The class has moved since: they no longer describe a move it can make.
        _supersede(opened, now, f"the class is now on tier {route.tier!r}")
        opened = []
    parity = _parity(session, policy, route, below, now)
    if parity.total < policy.decisions.parity_min_samples:
        return "too few samples"
    savings = _savings(session, policy, prices, route, below, now)
    if not parity.holds or (savings.monthly_usd is not None and savings.monthly_usd <= 0):
        lost = "parity no longer holds" if not parity.holds else "the saving is no longer positive"
        _supersede(opened, now, lost)
        return "no parity" if not parity.holds else "no savings"
    models = {"from": policy.model_for(route.tier), "to": policy.model_for(below)}
    priced = {end: prices.price(model) for end, model in models.items()}
    listed = {end: price.model_dump(exclude_none=True) if price else None for end, price in priced.items()}
    evidence = {**parity.evidence, "models": models, "prices_per_mtok": listed, "savings": savings.evidence()}
    current = opened[0] if opened else None
    if current is None or _stale(current, savings):
        _supersede(opened, now, "replaced by a recommendation on newer evidence")
        current = _open(session, route, below, parity, savings, evidence, now, opened)
        outcome = "recommended"
    else:
        outcome = "open"
    cooling = route.cooldown_until is not None and now < route.cooldown_until
    if policy.class_config(route.task_class).auto_demote and not cooling:
        control.accept(session, policy, current.id, SYSTEM_ACTOR, now)  # as a person's accept
        return "demoted"
    return outcome


def _parity(session: Session, policy: Policy, route: ClassRoute, below: str, now: datetime) -> Parity:
    since = max(now - PARITY_WINDOW, _arrived(session, route.task_class, route.tier) or now - PARITY_WINDOW)
    rows = session.execute(
        select(Evaluation.acceptable, func.count())
        .join(ShadowSample, ShadowSample.id == Evaluation.sample_id)
        .where(
            Evaluation.task_class == route.task_class,
            Evaluation.source == SHADOW_SOURCE,
            Evaluation.tier == below,
            Evaluation.reference_tier == route.tier,
            ShadowSample.direction == SampleDirection.REVERSE,
            Evaluation.evaluated_at >= since,
            Evaluation.evaluated_at <= now,
        )
        .group_by(Evaluation.acceptable)
    ).all()
    counts: dict[bool | None, int] = {acceptable: count for acceptable, count in rows}
    accepted, total = counts.get(True, 0), counts.get(True, 0) + counts.get(False, 0)
    floor = policy.class_config(route.task_class).acceptance_floor
    bar = floor if floor is not None else policy.decisions.parity_acceptance
    minimum = policy.decisions.parity_min_samples
    bound = baseline_reference(accepted, total, confidence=CONFIDENCE, min_samples=minimum).rate
    evidence = {
        "window": {"since": since.isoformat(), "until": now.isoformat(), "days": PARITY_WINDOW.days},
        "counts": {"evaluations": total, "accepted": accepted, "undecided": counts.get(None, 0)},
        "acceptance": accepted / total if total else None,
        "lower_bound": bound,
        "confidence": CONFIDENCE,
        "bar": bar,
        "bar_source": "acceptance_floor" if floor is not None else "parity_acceptance",
        "min_samples": minimum,
        "test": "one-sided Clopper-Pearson lower bound of the reverse evaluations' acceptance >= bar",
    }
    holds = bound is not None and bound >= bar
    return Parity(holds, accepted, total, bound, bar, evidence)


def _arrived(session: Session, task_class: str, tier: str) -> datetime | None:
    """When the class last moved onto ``tier`` (None: it has been there as long as driftwatch knows)."""
    moves = select(func.max(Decision.created_at)).where(
        Decision.task_class == task_class, Decision.to_tier == tier, Decision.from_tier != Decision.to_tier
    )
    return session.scalar(moves)


def _savings(
    session: Session, policy: Policy, prices: PriceTable, route: ClassRoute, below: str, now: datetime
) -> Savings:
    """Savings over the complete UTC days of the last 30 on which the class was on ``tier``: from its
    first traffic there in the window (and the first whole day after it last arrived), to yesterday."""
    task_class, tier = route.task_class, route.tier
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    start = today - timedelta(days=VOLUME_DAYS)
    arrived = _arrived(session, task_class, tier)
    if arrived is not None:
        start = max(start, datetime.combine(arrived.astimezone(UTC).date(), time(), UTC) + timedelta(days=1))
    days = daily_volumes(session, task_class, tier, start, today)
    models = (policy.model_for(tier), policy.model_for(below))
    unpriced = "; ".join(
        f"no model for tier {name!r} (set tier_models or a provider)"
        if model is None
        else f"no price for model {model!r} (add it to the policy's prices)"
        for name, model in zip((tier, below), models, strict=True)
        if prices.price(model) is None
    )
    forward = _forward_shadow(session, policy, prices, task_class, below, start)
    return project_savings(days, prices.price(models[0]), prices.price(models[1]), unpriced, forward)


def _forward_shadow(
    session: Session, policy: Policy, prices: PriceTable, task_class: str, below: str, since: datetime
) -> ForwardShadow:
    """The sampling the class would start on ``below``: replays on the reference tier's model, judged."""
    reference = policy.reference_tier
    provider = policy.providers.get(reference)
    model = provider.model if provider else policy.model_for(reference)
    budget = policy.shadow.budget_for(task_class)
    rate = policy.shadow.rate_for(task_class)
    if below not in policy.sampled_tiers or rate == 0 or budget == 0:
        why = f"tier {below!r} is not sampled" if below not in policy.sampled_tiers else "rate or budget 0"
        return ForwardShadow(0.0, model, prices.price(model), 0.0, budget, why)
    judged = judge_cost_per_evaluation(session, task_class, since)
    note = None if judged is not None else "no shadow evaluation judged yet: judging counted as free"
    return ForwardShadow(rate, model, prices.price(model), judged or 0.0, budget, note)


def _stale(current: Recommendation, savings: Savings) -> bool:
    old, new = current.monthly_savings_usd, savings.monthly_usd
    if old is None or new is None:
        return (old is None) != (new is None)
    return abs(new - old) > MATERIAL_CHANGE * max(abs(old), 1.0)


def _supersede(recommendations: list[Recommendation], now: datetime, why: str) -> None:
    """Withdraw open recommendations, each with an audit row saying why. Conditional on still being
    open: a person accepting or rejecting one at this moment wins."""
    for rec in recommendations:
        session = object_session(rec)
        assert session is not None
        withdrawn = session.execute(
            update(Recommendation)
            .where(Recommendation.id == rec.id, Recommendation.status == "open")
            .values(status="superseded", decided_at=now, decided_by=SYSTEM_ACTOR)
            .execution_options(synchronize_session="fetch")
        )
        if withdrawn.rowcount:  # type: ignore[attr-defined]
            record_decision(
                session,
                task_class=rec.task_class,
                kind="withdrawn",
                actor=SYSTEM_ACTOR,
                reason=f"recommendation {rec.id} withdrawn: {why}",
                evidence={"recommendation_id": rec.id, "why": why},
                now=now,
                from_tier=rec.from_tier,
                to_tier=rec.to_tier,
            )


def _open(
    session: Session,
    route: ClassRoute,
    below: str,
    parity: Parity,
    savings: Savings,
    evidence: dict[str, Any],
    now: datetime,
    replaced: list[Recommendation],
) -> Recommendation:
    if replaced:
        evidence = {**evidence, "supersedes": [rec.id for rec in replaced]}
    rec = Recommendation(
        task_class=route.task_class,
        from_tier=route.tier,
        to_tier=below,
        status="open",
        monthly_savings_usd=savings.monthly_usd,
        savings_low_usd=savings.low_usd,
        savings_high_usd=savings.high_usd,
        shadow_cost_monthly_usd=savings.shadow_cost_monthly_usd,
        evidence=orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS).decode(),
        created_at=now,
    )
    session.add(rec)
    session.flush()
    money = "savings unknown" if savings.monthly_usd is None else f"${savings.monthly_usd:,.2f}/month net"
    reason = (
        f"{below} matches {route.tier} on {route.task_class}: acceptance {parity.accepted / parity.total:.1%} "
        f"({parity.accepted:,} of {parity.total:,}), its lower 95% bound {parity.lower_bound:.1%} at or above "
        f"the bar of {parity.bar:.1%}; {money}"
    )
    record_decision(
        session,
        task_class=route.task_class,
        kind="recommended",
        actor=SYSTEM_ACTOR,
        reason=reason,
        evidence={**evidence, "recommendation_id": rec.id},
        now=now,
        from_tier=route.tier,
        to_tier=below,
    )
    payload = {"recommendation_id": rec.id, "from_tier": route.tier, "to_tier": below, **evidence}
    emit(
        session,
        "class.demotion_recommended",
        route.task_class,
        payload,
        now,
        dedupe=f"recommendation:{rec.id}",
    )
    return rec
