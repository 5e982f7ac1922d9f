"""Which tier each task class is on, and the one way a class changes tier (with its audit row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import ClassHour, ClassPolicy, Decision

SYSTEM_ACTOR = "driftwatch"


@dataclass(frozen=True, slots=True)
class ClassRoute:
    task_class: str
    tier: str
    model: str | None
    pinned: bool
    cooldown_until: datetime | None
    source: str  # "decided" (a row in class_policy) or "configured"


def known_classes(session: Session, policy: Policy) -> list[str]:
    """Classes seen in traffic, configured, or with a routing row."""
    seen = set(session.scalars(select(ClassHour.task_class).distinct()))
    seen |= set(session.scalars(select(ClassPolicy.task_class)))
    return sorted(seen | set(policy.classes))


def routes(session: Session, policy: Policy) -> list[ClassRoute]:
    decided = {row.task_class: row for row in session.scalars(select(ClassPolicy))}
    result = []
    for task_class in known_classes(session, policy):
        row = decided.get(task_class)
        tier = row.tier if row else policy.configured_tier(task_class)
        result.append(
            ClassRoute(
                task_class=task_class,
                tier=tier,
                model=policy.model_for(tier),
                pinned=bool(row and row.pinned),
                cooldown_until=row.cooldown_until if row else None,
                source="decided" if row else "configured",
            )
        )
    return result


def current_route(session: Session, policy: Policy, task_class: str) -> ClassRoute:
    row = session.get(ClassPolicy, task_class, with_for_update=True)
    tier = row.tier if row else policy.configured_tier(task_class)
    return ClassRoute(
        task_class,
        tier,
        policy.model_for(tier),
        bool(row and row.pinned),
        row.cooldown_until if row else None,
        "decided" if row else "configured",
    )


def record_decision(
    session: Session,
    *,
    task_class: str,
    kind: str,
    actor: str,
    reason: str,
    evidence: dict[str, Any],
    now: datetime,
    from_tier: str | None = None,
    to_tier: str | None = None,
) -> Decision:
    decision = Decision(
        task_class=task_class,
        kind=kind,
        from_tier=from_tier,
        to_tier=to_tier,
        actor=actor,
        reason=reason,
        evidence=orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS).decode(),
        created_at=now,
    )
    session.add(decision)
    session.flush()
    return decision


def move_class(
    session: Session,
    policy: Policy,
    *,
    task_class: str,
    to_tier: str,
    kind: str,
    actor: str,
    reason: str,
    evidence: dict[str, Any],
    now: datetime,
    pinned: bool | None = None,
) -> Decision:
    """Put a class on ``to_tier`` (and set or clear its pin), start its cool-down, and write the audit
    row; the caller's transaction commits both together. ``pinned`` None keeps the current pin."""
    if to_tier not in policy.tiers:
        raise ValueError(f"unknown tier {to_tier!r}")
    row = session.get(ClassPolicy, task_class, with_for_update=True)
    from_tier = row.tier if row else policy.configured_tier(task_class)
    if row is None:
        row = ClassPolicy(task_class=task_class, tier=to_tier, pinned=False)
        session.add(row)
    row.tier = to_tier
    if pinned is not None:
        row.pinned = pinned
    row.updated_at = now
    row.updated_by = actor
    if from_tier != to_tier:
        row.cooldown_until = now + timedelta(hours=policy.decisions.cooldown_hours)
    return record_decision(
        session,
        task_class=task_class,
        kind=kind,
        actor=actor,
        reason=reason,
        evidence=evidence,
        now=now,
        from_tier=from_tier,
        to_tier=to_tier,
    )
