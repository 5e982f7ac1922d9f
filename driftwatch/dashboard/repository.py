"""The dashboard's own aggregate queries: one GROUP BY per chart, never a row per call or verdict.

Volume comes from the hourly rollup ``class_hour`` (from ``call`` for minute buckets); acceptance is counted over ``evaluation`` by
bucket (its ``(task_class, tier, evaluated_at)`` index bounds the scan to the window); webhook rows
are few (one per event and endpoint) and read newest first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftwatch.dashboard.window import Window, bucket_key
from driftwatch.db.keyset import within
from driftwatch.db.models import (
    Call,
    ClassHour,
    Decision,
    Evaluation,
    EvaluationHour,
    OutboxEvent,
    ShadowSpend,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from driftwatch.db.models.class_hour import NO_TIER

MARKER_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Decided evaluations of a class and tier in one bucket, and how many were acceptable."""

    task_class: str
    tier: str | None
    key: str
    decided: int
    acceptable: int


@dataclass(frozen=True, slots=True)
class MarkerRow:
    id: int
    task_class: str
    kind: str
    from_tier: str | None
    to_tier: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    endpoint: str
    event_type: str
    task_class: str | None
    status: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None


Columns = TypeVarTuple("Columns")


def _for_class(
    query: Select[*Columns], column: InstrumentedAttribute[Any], task_class: str | None
) -> Select[*Columns]:
    return query if task_class is None else query.where(column == task_class)


def _within(
    query: Select[*Columns], moment: InstrumentedAttribute[datetime], where: Window
) -> Select[*Columns]:
    return within(query, moment, where.since, where.until)


def acceptance_buckets(session: Session, where: Window, task_class: str | None) -> list[BucketCount]:
    """Decided and acceptable evaluations per class, tier and bucket: from the hourly rollup, or for
    minute buckets from the evaluations of the hour themselves."""
    if not where.finer_than_hours:
        return _rolled_up_acceptance_buckets(session, where, task_class)
    key = bucket_key(session, Evaluation.evaluated_at, where.step).label("bucket")
    query = select(
        Evaluation.task_class,
        Evaluation.tier,
        key,
        func.count(),
        func.coalesce(func.sum(case((Evaluation.acceptable.is_(True), 1), else_=0)), 0),
    ).where(Evaluation.acceptable.is_not(None))
    query = _within(query, Evaluation.evaluated_at, where)
    query = _for_class(query, Evaluation.task_class, task_class)
    rows = session.execute(query.group_by(Evaluation.task_class, Evaluation.tier, key))
    return [BucketCount(name, tier, bucket, int(n), int(ok)) for name, tier, bucket, n, ok in rows]


def _rolled_up_acceptance_buckets(
    session: Session, where: Window, task_class: str | None
) -> list[BucketCount]:
    key = bucket_key(session, EvaluationHour.hour, where.step).label("bucket")
    query = select(
        EvaluationHour.task_class,
        EvaluationHour.tier,
        key,
        func.sum(EvaluationHour.decided),
        func.sum(EvaluationHour.acceptable),
    ).where(EvaluationHour.decided > 0)
    query = _within(query, EvaluationHour.hour, where)
    query = _for_class(query, EvaluationHour.task_class, task_class)
    rows = session.execute(query.group_by(EvaluationHour.task_class, EvaluationHour.tier, key))
    return [BucketCount(name, tier or None, bucket, int(n), int(ok)) for name, tier, bucket, n, ok in rows]


def oldest_activity(session: Session, since: datetime) -> datetime | None:
    """The oldest evaluation since ``since`` or, without any, the oldest call: what the page's
    opening range must hold. Both are index seeks (on ``evaluated_at`` and ``start_time``)."""
    oldest = select(func.min(Evaluation.evaluated_at)).where(Evaluation.evaluated_at >= since)
    evaluated = session.scalar(oldest)
    if evaluated is not None:
        return evaluated
    return session.scalar(select(func.min(Call.start_time)).where(Call.start_time >= since))


def volume_buckets(
    session: Session, where: Window, task_class: str | None
) -> dict[str | None, dict[str, tuple[int, float]]]:
    """tier (None: no tier named) → bucket key → (calls, cost): from the hourly rollup, or for minute
    buckets from the calls of the hour themselves (an index range on their start time)."""
    if where.finer_than_hours:
        key = bucket_key(session, Call.start_time, where.step).label("bucket")
        spent = func.coalesce(func.sum(Call.cost_usd), 0.0)
        query = _within(select(Call.tier, key, func.count(), spent), Call.start_time, where)
        query = _for_class(query, Call.task_class, task_class).group_by(Call.tier, key)
    else:
        key = bucket_key(session, ClassHour.hour, where.step).label("bucket")
        query = select(ClassHour.tier, key, func.sum(ClassHour.calls), func.sum(ClassHour.cost_usd))
        query = _within(query, ClassHour.hour, where)
        query = _for_class(query, ClassHour.task_class, task_class).group_by(ClassHour.tier, key)
    volume: dict[str | None, dict[str, tuple[int, float]]] = defaultdict(dict)
    for tier, bucket, calls, cost in session.execute(query):
        volume[tier if tier not in (NO_TIER, None) else None][bucket] = (int(calls), float(cost or 0.0))
    return volume


def shadow_spent_by_day(session: Session, days: list[str], task_class: str | None) -> dict[str, float]:
    query = select(ShadowSpend.day, func.sum(ShadowSpend.spent_usd)).where(
        ShadowSpend.day >= days[0], ShadowSpend.day <= days[-1]
    )
    query = _for_class(query, ShadowSpend.task_class, task_class)
    return {day: float(spent) for day, spent in session.execute(query.group_by(ShadowSpend.day))}


# The columns of a MarkerRow, in its order.
_MARKER_COLUMNS = (
    Decision.id,
    Decision.task_class,
    Decision.kind,
    Decision.from_tier,
    Decision.to_tier,
    Decision.created_at,
)


def decision_markers(session: Session, where: Window, task_class: str | None) -> list[MarkerRow]:
    """Decisions in the window, oldest first; the newest :data:`MARKER_ROWS` when there are more."""
    query = select(*_MARKER_COLUMNS)
    query = _for_class(_within(query, Decision.created_at, where), Decision.task_class, task_class)
    newest = query.order_by(Decision.created_at.desc(), Decision.id.desc()).limit(MARKER_ROWS)
    return [MarkerRow(*row) for row in reversed(session.execute(newest).all())]


def latest_moves(session: Session, classes: Collection[str], kinds: Sequence[str]) -> dict[str, MarkerRow]:
    """The newest decision of one of ``kinds`` per class, whenever it was taken."""
    if not classes:
        return {}
    newest = (
        select(func.max(Decision.id))
        .where(Decision.task_class.in_(list(classes)), Decision.kind.in_(list(kinds)))
        .group_by(Decision.task_class)
    )
    query = select(*_MARKER_COLUMNS).where(Decision.id.in_(newest))
    return {row.task_class: row for row in (MarkerRow(*found) for found in session.execute(query))}


def delivery_counts(session: Session, task_class: str | None) -> dict[str, int]:
    query = select(WebhookDelivery.status, func.count()).join(
        OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id
    )
    query = _for_class(query, OutboxEvent.task_class, task_class)
    return {status: int(count) for status, count in session.execute(query.group_by(WebhookDelivery.status))}


def recent_deliveries(session: Session, task_class: str | None, limit: int) -> list[DeliveryRow]:
    query = (
        select(
            WebhookDelivery.id,
            WebhookEndpoint.name,
            OutboxEvent.event_type,
            OutboxEvent.task_class,
            WebhookDelivery.status,
            WebhookDelivery.attempts,
            WebhookDelivery.created_at,
            WebhookDelivery.finished_at,
            WebhookDelivery.last_error,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
    )
    query = _for_class(query, OutboxEvent.task_class, task_class)
    newest = query.order_by(WebhookDelivery.id.desc()).limit(limit)
    return [DeliveryRow(*row) for row in session.execute(newest)]


def last_status_codes(session: Session, delivery_ids: list[int]) -> dict[int, int | None]:
    """delivery id → HTTP status of its newest attempt (None: no answer), for deliveries tried."""
    if not delivery_ids:
        return {}
    newest = (
        select(func.max(WebhookAttempt.id))
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .group_by(WebhookAttempt.delivery_id)
    )
    rows = session.execute(
        select(WebhookAttempt.delivery_id, WebhookAttempt.status_code).where(WebhookAttempt.id.in_(newest))
    )
    return {delivery_id: code for delivery_id, code in rows}
