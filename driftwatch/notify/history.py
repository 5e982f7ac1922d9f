"""Reading deliveries back: what was sent where, every attempt, and what is stuck or failed."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.db.models import OutboxEvent, WebhookAttempt, WebhookDelivery
from driftwatch.notify.schemas import Attempt, Delivery, DeliveryPage, DeliveryStatus

ATTEMPTS_SHOWN = 20


def list_deliveries(
    session: Session,
    *,
    endpoint_id: int | None = None,
    delivery_id: int | None = None,
    status: DeliveryStatus | None = None,
    before: int | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """Newest first, each with its latest attempts (up to 20, oldest first); keyset-paged on id."""
    query = (
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if delivery_id is not None:
        query = query.where(WebhookDelivery.id == delivery_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = session.execute(query).all()
    page, more = rows[:limit], len(rows) > limit
    attempts = _attempts(session, [delivery.id for delivery, _ in page])
    items = [
        Delivery(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=event.id,
            event_type=event.event_type,
            task_class=event.task_class,
            idempotency_key=event.idempotency_key,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            created_at=delivery.created_at,
            finished_at=delivery.finished_at,
            last_error=delivery.last_error,
            attempt_log=attempts[delivery.id],
        )
        for delivery, event in page
    ]
    return DeliveryPage(items=items, next_cursor=page[-1][0].id if more else None)


def _attempts(session: Session, delivery_ids: list[int]) -> dict[int, list[Attempt]]:
    found: dict[int, list[Attempt]] = defaultdict(list)
    if not delivery_ids:
        return found
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
    )
    for row in rows:
        found[row.delivery_id].append(
            Attempt(
                attempted_at=row.attempted_at,
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                error=row.error,
                response_excerpt=row.response_excerpt,
            )
        )
    for log in found.values():
        del log[:-ATTEMPTS_SHOWN]
    return found
