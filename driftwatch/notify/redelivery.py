"""Sending again what was given up on (``failed``) or what a receiver lost after taking it
(``delivered``): the delivery is queued anew, with its own retry window from now.

A redelivered event keeps its ``webhook-id``, so a receiver that did process it can tell.  It goes
back in its place in the endpoint's order: it is sent before any newer event still pending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from driftwatch.db.models import WebhookDelivery, WebhookEndpoint
from driftwatch.errors import Conflict, NotFound
from driftwatch.notify import history
from driftwatch.notify.endpoints import get_endpoint
from driftwatch.notify.schemas import Delivery

FINISHED = ("failed", "delivered")


def redeliver(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """Queue one finished delivery again; 409 when it is still pending, was cancelled, or its
    endpoint was removed."""
    found = session.execute(
        select(WebhookDelivery.status, WebhookEndpoint.removed_at)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"no delivery with id {delivery_id}")
    status, removed_at = found
    if removed_at is not None:
        raise Conflict(f"delivery {delivery_id} is to a removed webhook")
    if not _requeue(session, now, WebhookDelivery.id == delivery_id):
        raise Conflict(f"delivery {delivery_id} is {status}; only a failed or delivered one is sent again")
    return history.list_deliveries(session, delivery_id=delivery_id, limit=1).items[0]


def recover(session: Session, endpoint_id: int, now: datetime, since: datetime | None = None) -> int:
    """Queue again every failed delivery of an endpoint (queued since ``since``, if given), e.g. after
    a receiver outage longer than the retry window; returns how many."""
    get_endpoint(session, endpoint_id)
    matches = WebhookDelivery.endpoint_id == endpoint_id
    if since is not None:
        matches = and_(matches, WebhookDelivery.created_at >= since)
    return _requeue(session, now, matches, statuses=("failed",))


def _requeue(
    session: Session, now: datetime, matches: ColumnElement[bool], statuses: tuple[str, ...] = FINISHED
) -> int:
    # Conditional on the status: a deliver run finishing it meanwhile, or a second request, finds it
    # pending and leaves it.  Attempts count from here; the attempt log keeps the earlier ones.
    requeued = session.execute(
        update(WebhookDelivery)
        .where(matches, WebhookDelivery.status.in_(statuses))
        .values(status="pending", attempts=0, next_attempt_at=now, created_at=now, finished_at=None)
    )
    return int(requeued.rowcount)  # type: ignore[attr-defined]
