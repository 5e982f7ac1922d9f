"""Manual control: a person pins a class to a tier, unpins it, or answers a demotion recommendation.

Each action is one transaction of the caller's (the request's session, or the command's) and writes
its audit-log rows with the person (or API key) as the actor:

* **pin** puts the class on the tier and pins it (audit row ``pinned``); automatic promotion and
  demotion leave a pinned class alone.  A person overrides the cool-down; a tier change starts one.
* **unpin** clears the pin and keeps the tier (``unpinned``); unpinning a class that is not pinned
  changes nothing and writes nothing.
* **accept** an open recommendation: two rows, ``accepted`` (the answer to the recommendation, like
  ``rejected``) and ``demoted`` (the tier change, as every demotion is recorded, automatic or not),
  plus the event ``class.demoted``.  Refused (409) when the class is pinned (unpin it first: a pin
  says a person chose the tier) or no longer on the recommendation's ``from_tier``.
* **reject** an open recommendation: ``rejected``, with the person's reason.

Answering a recommendation starts with a conditional ``UPDATE … WHERE status = 'open'`` as the
transaction's first statement, so of two concurrent answers exactly one wins (PostgreSQL re-checks
the condition after the row lock; SQLite serialises the writers) and the other gets 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.keyset import newest_first_page
from driftwatch.db.models import Recommendation
from driftwatch.errors import Conflict, NotFound, Unprocessable
from driftwatch.events.outbox import emit
from driftwatch.routing.routes import current_route, move_class, record_decision, unseen_classes
from driftwatch.routing.schemas import (
    ClassChange,
    ClassRouteOut,
    RecommendationDecision,
    RecommendationOut,
    RecommendationPage,
)

MAX_CLASS_LENGTH = 255


def pin(
    session: Session, policy: Policy, task_class: str, tier: str, actor: str, now: datetime
) -> ClassChange:
    if tier not in policy.tiers:
        raise Unprocessable(f"unknown tier {tier!r}; tiers are {', '.join(policy.tiers)}")
    if not task_class or len(task_class) > MAX_CLASS_LENGTH:
        raise Unprocessable(f"a task class is 1 to {MAX_CLASS_LENGTH} characters")
    if unseen_classes(session, policy, {task_class}):
        raise NotFound(
            f"no task class {task_class!r}: driftwatch has stored no call of it and the policy file does "
            "not name it (name it under classes: to route it before its first call)"
        )
    before = current_route(session, policy, task_class)  # locks the class's routing row
    decision = move_class(
        session,
        policy,
        task_class=task_class,
        to_tier=tier,
        kind="pinned",
        actor=actor,
        reason=f"pinned to {tier} by {actor}",
        evidence={"tier_before": before.tier, "pinned_before": before.pinned},
        now=now,
        pinned=True,
    )
    return _change(session, policy, task_class, decision.id)


def unpin(session: Session, policy: Policy, task_class: str, actor: str, now: datetime) -> ClassChange:
    route = current_route(session, policy, task_class)
    if not route.pinned:
        return _change(session, policy, task_class, None)
    decision = move_class(
        session,
        policy,
        task_class=task_class,
        to_tier=route.tier,
        kind="unpinned",
        actor=actor,
        reason=f"unpinned by {actor}; stays on {route.tier}, automatic decisions apply again",
        evidence={"tier": route.tier},
        now=now,
        pinned=False,
    )
    return _change(session, policy, task_class, decision.id)


def accept(
    session: Session, policy: Policy, recommendation_id: int, actor: str, now: datetime
) -> RecommendationDecision:
    rec = _answer(session, recommendation_id, "accepted", actor, now)
    route = current_route(session, policy, rec.task_class)
    if route.pinned:
        raise Conflict(
            f"{rec.task_class} is pinned to {route.tier}; unpin it first "
            f"(driftwatch policy unpin {rec.task_class}), then accept recommendation {rec.id}"
        )
    if route.tier != rec.from_tier or rec.to_tier not in policy.tiers:
        raise Conflict(
            f"recommendation {rec.id} moves {rec.task_class} from {rec.from_tier} to {rec.to_tier}, "
            f"but the class is on {route.tier} now (tiers: {', '.join(policy.tiers)})"
        )
    evidence = _evidence(rec)
    accepted = record_decision(
        session,
        task_class=rec.task_class,
        kind="accepted",
        actor=actor,
        reason=f"recommendation {rec.id} accepted by {actor}",
        evidence=evidence,
        now=now,
        from_tier=rec.from_tier,
        to_tier=rec.to_tier,
    )
    demoted = move_class(
        session,
        policy,
        task_class=rec.task_class,
        to_tier=rec.to_tier,
        kind="demoted",
        actor=actor,
        reason=f"recommendation {rec.id} accepted by {actor}",
        evidence={**evidence, "accepted_decision_id": accepted.id},
        now=now,
    )
    payload = {**evidence, "from_tier": rec.from_tier, "to_tier": rec.to_tier, "actor": actor}
    payload |= {"model": policy.model_for(rec.to_tier), "decision_id": demoted.id}
    emit(session, "class.demoted", rec.task_class, payload, now, dedupe=f"recommendation:{rec.id}")
    return _decided(session, policy, rec, [accepted.id, demoted.id])


def reject(
    session: Session,
    policy: Policy,
    recommendation_id: int,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> RecommendationDecision:
    rec = _answer(session, recommendation_id, "rejected", actor, now)
    rejected = record_decision(
        session,
        task_class=rec.task_class,
        kind="rejected",
        actor=actor,
        reason=f"recommendation {rec.id} rejected by {actor}" + (f": {reason}" if reason else ""),
        evidence={**_evidence(rec), "reason": reason},
        now=now,
        from_tier=rec.from_tier,
        to_tier=rec.to_tier,
    )
    return _decided(session, policy, rec, [rejected.id])


def list_recommendations(
    session: Session,
    *,
    status: str | None = None,
    task_class: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> RecommendationPage:
    """Recommendations, newest first, optionally of one status and one class."""
    query = select(Recommendation)
    if status is not None:
        query = query.where(Recommendation.status == status)
    if task_class is not None:
        query = query.where(Recommendation.task_class == task_class)
    rows, next_cursor = newest_first_page(
        session, query, Recommendation.created_at, Recommendation.id, limit, cursor
    )
    return RecommendationPage(
        items=[RecommendationOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def _answer(
    session: Session, recommendation_id: int, status: str, actor: str, now: datetime
) -> Recommendation:
    """Close an open recommendation with ``status``: the conditional UPDATE must come first (module doc)."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Recommendation)
        .where(Recommendation.id == recommendation_id, Recommendation.status == "open")
        .values(status=status, decided_at=now, decided_by=actor)
        .execution_options(synchronize_session=False)
    )
    rec = session.get(Recommendation, recommendation_id, populate_existing=True)
    if rec is None:
        raise NotFound(f"no recommendation with id {recommendation_id}")
    if result.rowcount == 0:
        decided = f" by {rec.decided_by} at {rec.decided_at.isoformat()}" if rec.decided_at else ""
        raise Conflict(f"recommendation {rec.id} is {rec.status}{decided}, not open")
    return rec


def _evidence(rec: Recommendation) -> dict[str, Any]:
    return {
        "recommendation_id": rec.id,
        "monthly_savings_usd": rec.monthly_savings_usd,
        "savings_low_usd": rec.savings_low_usd,
        "savings_high_usd": rec.savings_high_usd,
        "shadow_cost_monthly_usd": rec.shadow_cost_monthly_usd,
        "recommendation_evidence": orjson.loads(rec.evidence),
    }


def _change(session: Session, policy: Policy, task_class: str, decision_id: int | None) -> ClassChange:
    route = ClassRouteOut.from_route(current_route(session, policy, task_class))
    return ClassChange(task_class=task_class, route=route, decision_id=decision_id)


def _decided(
    session: Session, policy: Policy, rec: Recommendation, decision_ids: list[int]
) -> RecommendationDecision:
    route = ClassRouteOut.from_route(current_route(session, policy, rec.task_class))
    return RecommendationDecision(
        recommendation=RecommendationOut.model_validate(rec), decision_ids=decision_ids, route=route
    )
