"""Which tier each task class is on, and the one way a class changes tier (with its audit row)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import distinct, func, select, text
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import ClassHour, ClassPolicy, Decision

SYSTEM_ACTOR = "driftwatch"
MOVES = ("promoted", "demoted", "pinned", "unpinned")  # the audit rows :func:`move_class` writes


@dataclass(frozen=True, slots=True)
class ClassRoute:
    task_class: str
    tier: str
    model: str | None
    pinned: bool
    cooldown_until: datetime | None
    source: str  # "decided" (a row in class_policy) or "configured"


# A loose index scan: one probe of class_hour's primary key (task_class, tier, hour) per class, where
# SELECT DISTINCT reads every hour of every class (PostgreSQL: 435 ms against 42 ms for 1,000 classes
# with 30 days of hours; SQLite's skip-scan makes both a few ms).  Valid on SQLite and PostgreSQL.
_OBSERVED_CLASSES = text(
    """
    WITH RECURSIVE seen(task_class) AS (
        SELECT min(task_class) FROM class_hour
        UNION ALL
        SELECT (SELECT min(task_class) FROM class_hour WHERE task_class > seen.task_class)
        FROM seen WHERE seen.task_class IS NOT NULL
    )
    SELECT task_class FROM seen WHERE task_class IS NOT NULL
    """
)


def observed_classes(session: Session) -> list[str]:
    """Classes seen in traffic (in the hourly rollup), in name order."""
    return list(session.scalars(_OBSERVED_CLASSES))


def busiest_classes(session: Session, limit: int) -> list[str]:
    """The ``limit`` classes with the most calls of all time (ties by name), busiest first."""
    calls = func.sum(ClassHour.calls)
    query = (
        select(ClassHour.task_class)
        .group_by(ClassHour.task_class)
        .order_by(calls.desc(), ClassHour.task_class)
    )
    return list(session.scalars(query.limit(limit)))


def observed_count(session: Session, among: Collection[str] | None = None) -> int:
    """How many classes were seen in traffic (of ``among``, when given)."""
    query = select(func.count(distinct(ClassHour.task_class)))
    if among is not None:
        query = query.where(ClassHour.task_class.in_(sorted(among)))
    return session.scalar(query) or 0


def known_classes(session: Session, policy: Policy, observed: Iterable[str] | None = None) -> list[str]:
    """Classes seen in traffic, configured, or with a routing row; ``observed`` (e.g. a cached
    :func:`observed_classes`) spares the read of the rollup."""
    seen = set(observed_classes(session) if observed is None else observed)
    seen |= set(session.scalars(select(ClassPolicy.task_class)))
    return sorted(seen | set(policy.classes))


def unseen_classes(session: Session, policy: Policy, candidates: Collection[str]) -> set[str]:
    """Those of ``candidates`` driftwatch has never seen: no call of the class was ever stored (the
    hourly rollup remembers classes whose calls retention deleted), the policy file does not name it,
    and it has no routing row.  Verdicts and pins for such a class are refused, so a client cannot
    invent classes (each would get detectors, routing rows and metric series of its own)."""
    unseen = set(candidates) - set(policy.classes)
    if not unseen:
        return unseen
    unseen -= set(
        session.scalars(select(ClassHour.task_class).where(ClassHour.task_class.in_(unseen)).distinct())
    )
    unseen -= set(session.scalars(select(ClassPolicy.task_class).where(ClassPolicy.task_class.in_(unseen))))
    return unseen


def routes(session: Session, policy: Policy, observed: Iterable[str] | None = None) -> list[ClassRoute]:
    decided = {row.task_class: row for row in session.scalars(select(ClassPolicy))}
    return [
        _route(policy, task_class, decided.get(task_class))
        for task_class in known_classes(session, policy, observed)
    ]


def current_route(session: Session, policy: Policy, task_class: str) -> ClassRoute:
    return _route(policy, task_class, session.get(ClassPolicy, task_class, with_for_update=True))


def _route(policy: Policy, task_class: str, row: ClassPolicy | None) -> ClassRoute:
    """A class's route from its routing row, or from the policy file when no decision moved it yet."""
    tier = row.tier if row else policy.configured_tier(task_class)
    return ClassRoute(
        task_class=task_class,
        tier=tier,
        model=policy.model_for(tier),
        pinned=bool(row and row.pinned),
        cooldown_until=row.cooldown_until if row else None,
        source="decided" if row else "configured",
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
    # Create the routing row if missing without racing another writer (two pins of a new class at
    # once): insert-or-nothing, then lock whichever row won.
    configured = policy.configured_tier(task_class)
    session.execute(
        insert_ignoring_conflicts(session, ClassPolicy).values(
            task_class=task_class, tier=configured, pinned=False, updated_at=now, updated_by=actor
        )
    )
    row = session.get(ClassPolicy, task_class, with_for_update=True, populate_existing=True)
    assert row is not None
    from_tier = row.tier
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


def tiers_at(
    session: Session, policy: Policy, moments: Collection[tuple[str, datetime]]
) -> dict[tuple[str, datetime], str]:
    """The tier each class was routed to at each moment, from the audit log of its moves.

    At a moment after a move: the tier the last such move put it on; before its first move: the tier
    that move started from; never moved: its route now (its routing row, else its configured tier,
    else the default tier routers are given for every class the policy does not name).
    """
    classes = sorted({task_class for task_class, _ in moments})
    if not classes:
        return {}
    history: dict[str, tuple[list[datetime], list[tuple[str | None, str | None]]]] = {}
    for task_class, created_at, from_tier, to_tier in session.execute(
        select(Decision.task_class, Decision.created_at, Decision.from_tier, Decision.to_tier)
        .where(Decision.task_class.in_(classes), Decision.kind.in_(MOVES))
        .order_by(Decision.task_class, Decision.created_at, Decision.id)
    ):
        times, tiers = history.setdefault(task_class, ([], []))
        times.append(created_at)
        tiers.append((from_tier, to_tier))
    rows = session.scalars(select(ClassPolicy).where(ClassPolicy.task_class.in_(classes)))
    now = {row.task_class: row.tier for row in rows}
    result: dict[tuple[str, datetime], str] = {}
    for task_class, moment in moments:
        tier = now.get(task_class) or policy.configured_tier(task_class)
        if task_class in history:
            times, moves = history[task_class]
            after = bisect_right(times, moment)
            tier = (moves[after - 1][1] if after else moves[0][0]) or tier
        result[task_class, moment] = tier
    return result
