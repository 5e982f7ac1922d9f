"""Writing events to the outbox, in the caller's transaction, so an event exists iff its cause does."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import OutboxEvent
from driftwatch.notify.events import EVENT_TYPES


def emit(
    session: Session,
    event_type: str,
    task_class: str | None,
    payload: dict[str, Any],
    now: datetime,
    *,
    dedupe: str,
) -> bool:
    """Queue an event; ``dedupe`` names what makes it unique (e.g. the decision id), so a job that runs
    twice, or on two replicas, queues it once. Returns whether it was new."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    key = hashlib.sha256(f"{event_type}\x00{task_class}\x00{dedupe}".encode()).hexdigest()[:48]
    body = {"type": event_type, "task_class": task_class, "occurred_at": now.isoformat(), **payload}
    inserted = session.execute(
        insert_ignoring_conflicts(session, OutboxEvent).values(
            event_type=event_type,
            task_class=task_class,
            idempotency_key=key,
            payload=orjson.dumps(body).decode(),
            created_at=now,
        )
    )
    return bool(inserted.rowcount)  # type: ignore[attr-defined]
